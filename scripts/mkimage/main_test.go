package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// layoutImage reads the image tagged tag from the OCI layout at dir.
func layoutImage(t *testing.T, dir, tag string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		if m.Annotations[imagebuild.RefNameAnnotation] == tag {
			img, err := idx.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("layout %s has no image tagged %q: %+v", dir, tag, im.Manifests)
	return nil
}

func TestBusyboxImageFromFlags(t *testing.T) {
	imagetest.BusyboxSpec(t) // requires busybox-static
	tmp := t.TempDir()
	site := filepath.Join(tmp, "site")
	if err := os.MkdirAll(filepath.Join(site, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "sub", "index.html"), []byte("hello\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	out, arch := filepath.Join(tmp, "oci"), filepath.Join(tmp, "img.tar")
	err := run([]string{"--out", out, "--archive", arch, "--tag", "1",
		"--entrypoint", `["/bin/busybox","httpd","-f"]`, "--cmd", "-p 8080 -h /srv/www",
		"--env", "GREETING=hi there", "--user", "app", "--workdir", "/srv", "--stop-signal", "SIGINT",
		"--label", "a=b", "--expose", "8080/tcp", "--add", site + ":/srv/www",
		"--healthcheck", `["CMD","/bin/busybox","wget","-q","http://127.0.0.1:8080/"]`, "--health-interval", "2s"})
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("image:1")
	fromArchive, err := tarball.ImageFromPath(arch, &tag)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []v1.Image{layoutImage(t, out, "1"), fromArchive} {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if c.Healthcheck == nil {
			t.Fatalf("config has no Healthcheck, want the --healthcheck given")
		}
		got := fmt.Sprintln(c.Entrypoint, c.Cmd, c.Env[len(c.Env)-1], c.User, c.WorkingDir, c.StopSignal, c.Labels, c.ExposedPorts,
			c.Healthcheck.Test, c.Healthcheck.Interval)
		want := "[/bin/busybox httpd -f] [-p 8080 -h /srv/www] GREETING=hi there app /srv SIGINT map[a:b] map[8080/tcp:{}] " +
			"[CMD /bin/busybox wget -q http://127.0.0.1:8080/] 2s\n"
		if got != want {
			t.Errorf("config:\n got %s\nwant %s", got, want)
		}
		es, err := imagebuild.ReadTar(mutate.Extract(img))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		files := map[string]string{}
		for _, e := range es {
			names = append(names, e.Header.Name)
			if e.Header.Name == "srv/www/sub/index.html" && e.Header.Mode != 0o640 {
				t.Errorf("index.html mode %o, want 640", e.Header.Mode)
			}
			files[e.Header.Name] = string(e.Body)
		}
		if files["srv/www/sub/index.html"] != "hello\n" || !strings.Contains(files["etc/passwd"], "app:x:999") {
			t.Errorf("image lacks the added file or the base: %v", names)
		}
	}
}

func TestSyntheticImage(t *testing.T) {
	tmp := t.TempDir()
	for _, dir := range []string{"a", "b"} {
		if err := run([]string{"--out", filepath.Join(tmp, dir), "--synthetic", "2MB", "--layers", "4", "--seed", "3"}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := layoutImage(t, filepath.Join(tmp, "a"), "latest"), layoutImage(t, filepath.Join(tmp, "b"), "latest")
	da, _ := a.Digest()
	db, _ := b.Digest()
	ls, _ := a.Layers()
	if da != db || len(ls) != 4 {
		t.Fatalf("digests %s %s, %d layers: want equal digests and 4 layers", da, db, len(ls))
	}
	var total int64
	for _, l := range ls {
		n, _ := l.Size()
		total += n
	}
	if total < 2<<20*8/10 {
		t.Errorf("4 layers of %d compressed bytes, want most of 2 MiB", total)
	}
	if err := run([]string{"--out", tmp, "--synthetic", "lots"}); err == nil || !strings.Contains(err.Error(), `size "lots"`) {
		t.Errorf("--synthetic lots: %v, want an error naming the size", err)
	}
}

// TestScratchImageWithArchiveRef: --scratch leaves out the busybox base
// (the test cluster's pause and CoreDNS images are one static binary each)
// and --archive-ref names the docker archive's image as given, which is
// what `ctr images import` registers it under.
func TestScratchImageWithArchiveRef(t *testing.T) {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "pause")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	arch := filepath.Join(tmp, "img.tar")
	if err := run([]string{"--scratch", "--archive", arch, "--archive-ref", "nucleus.test/pause:1",
		"--entrypoint", `["/pause"]`, "--add", bin + ":/pause"}); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("nucleus.test/pause:1")
	img, err := tarball.ImageFromPath(arch, &tag)
	if err != nil {
		t.Fatalf("archive has no image nucleus.test/pause:1: %v", err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 {
		t.Fatalf("scratch image has %d layers, want 1 (the --add one, no busybox base)", len(ls))
	}
	rc, err := ls[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	es, err := imagebuild.ReadTar(rc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Header.Name)
	}
	if strings.Join(names, " ") != "pause" {
		t.Fatalf("scratch layer holds %v, want only pause", names)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cf.Config.Entrypoint, cf.Config.Cmd) != "[/pause] []" {
		t.Fatalf("Entrypoint/Cmd = %v %v, want [/pause] and none", cf.Config.Entrypoint, cf.Config.Cmd)
	}
}
