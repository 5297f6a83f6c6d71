package network

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"nucleus/internal/keeper"
	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
)

// userspaceLeaks lists what the userspace backend of root left on the
// host: runtime entries (hub pins, slirp4netns directories), hub pins
// still mounted, and slirp4netns or pasta processes working for this root
// (their command lines name a directory under it).
func userspaceLeaks(root rootdir.Root) ([]string, error) {
	dir := filepath.Join(root.Run, "userspace-net")
	var out []string
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		out = append(out, "userspace-net runtime entry "+filepath.Join(dir, e.Name()))
	}
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
				out = append(out, "mount (hub netns pin) "+fields[4])
			}
		}
		f.Close()
	}
	// Rootless: the keepers of projects' user namespaces (internal/keeper).
	usernsDir := filepath.Dir(keeper.ProjectDir(root.Run, "x"))
	if ents, err := os.ReadDir(usernsDir); err == nil {
		for _, e := range ents {
			out = append(out, "project user namespace entry "+filepath.Join(usernsDir, e.Name()))
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		switch {
		case strings.Contains(string(cmd), keeper.HubArgv+"\x00"+dir+"/") && procstat.Running(pid):
			out = append(out, "rootless hub holder process "+p.Name())
		case isOurSlirp(pid, dir):
			out = append(out, "userspace helper process (slirp4netns or pasta) "+p.Name())
		case strings.HasPrefix(string(cmd), keeper.Argv0+"\x00"+usernsDir+"/") && procstat.Running(pid):
			out = append(out, "project user namespace keeper process "+p.Name())
		}
	}
	return out, nil
}
