package imagebuild

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BusyboxPath is where Debian's busybox-static installs the binary.
const BusyboxPath = "/bin/busybox"

// AppUID and AppGID are the image user "app" of the busybox base, for tests
// of ownership and of `user:`.
const AppUID, AppGID = 999, 999

// Passwd and Group are the base's /etc/passwd and /etc/group.
const (
	Passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"app:x:999:999:app:/home/app:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	Group = "root:x:0:\napp:x:999:\nnogroup:x:65534:\n"
)

// BusyboxLayer returns the entries of a base layer: the static busybox at
// bin (the file at busybox, normally BusyboxPath) with every applet it
// lists as a symlink to /bin/busybox (what `busybox --install -s` does),
// /etc/passwd and /etc/group with root and app (999:999), /root,
// /home/app owned by app, and /tmp (1777).
func BusyboxLayer(busybox string) ([]Entry, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("busybox for the base layer (Debian package busybox-static): %w", err)
	}
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", busybox, err)
	}
	dirs := map[string]bool{"bin": true}
	var links []string
	for _, l := range strings.Fields(string(out)) {
		if l == "bin/busybox" || strings.Contains(l, "..") {
			continue
		}
		links = append(links, l)
		for d := path.Dir(l); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds) // parents sort before their children
	sort.Strings(links)
	var es []Entry
	for _, d := range ds {
		es = append(es, Dir(d, 0o755))
	}
	es = append(es, Bytes("bin/busybox", 0o755, bin))
	for _, l := range links {
		es = append(es, Symlink(l, "/bin/busybox"))
	}
	return append(es,
		Dir("etc", 0o755),
		File("etc/passwd", 0o644, Passwd),
		File("etc/group", 0o644, Group),
		Dir("root", 0o700),
		Dir("home", 0o755),
		Dir("home/app", 0o755).Owner(AppUID, AppGID),
		Dir("tmp", 0o1777),
	), nil
}

// Busybox returns the spec of a busybox image: the base layer and a config
// whose Cmd is /bin/sh, with PATH set. Callers append layers and change the
// config before Build.
func Busybox(busybox string) (Spec, error) {
	base, err := BusyboxLayer(busybox)
	if err != nil {
		return Spec{}, err
	}
	return Spec{
		Layers: [][]Entry{base},
		Config: v1.Config{
			Cmd: []string{"/bin/sh"},
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
	}, nil
}
