package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWritableBindPlantsNoHostSetuid (issue 9, finding 2): sandbox root
// copies a binary into a writable bind volume and makes it setuid. On the
// host the file must not belong to a real host user (it belongs to the
// project's id range), and inside, every volume is nosuid,nodev, so a
// setuid file on one is inert.
func TestWritableBindPlantsNoHostSetuid(t *testing.T) {
	root := newRoot(t)
	vol := t.TempDir()
	_ = os.Chmod(vol, 0o777) // writable for the sandbox without :U
	svc := service("/bin/busybox", "sh", "-c", "cp /bin/busybox /vol/sh && chmod 4755 /vol/sh && cat /proc/self/mountinfo")
	svc.Volumes = []Volume{{Type: MountVolume, Source: "named", Target: "/named"}}
	mounts, err := ResolveMounts(Config{Root: root, Project: "p", Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	mounts = append(mounts,
		ResolvedMount{Type: MountBind, Source: vol, Target: "/vol"},
		ResolvedMount{Type: MountBind, Source: t.TempDir(), Target: "/ro", ReadOnly: true},
		ResolvedMount{Type: MountTmpfs, Target: "/scratch", Size: 1 << 20})
	r := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts})
	if r.st.Code != 0 {
		t.Fatalf("workload failed: %+v %s", r.st, r.err)
	}

	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(vol, "sh"), &st); err != nil {
		t.Fatalf("file written into the volume: %v", err)
	}
	base, err := ProjectIDRange(root, "p")
	if err != nil {
		t.Fatal(err)
	}
	if st.Uid < base || st.Uid >= base+IDRangeSize || st.Gid < base || st.Gid >= base+IDRangeSize {
		t.Errorf("file written by sandbox root is owned by %d:%d on the host (mode %o), want the project's range [%d, %d)",
			st.Uid, st.Gid, st.Mode, base, base+IDRangeSize)
	}

	// mountinfo: field 5 is the mount point, field 6 the per-mount options.
	opts := map[string]string{}
	for _, l := range strings.Split(r.out, "\n") {
		if f := strings.Fields(l); len(f) > 5 {
			opts[f[4]] = f[5]
		}
	}
	for _, target := range []string{"/vol", "/ro", "/named", "/scratch"} {
		o, ok := opts[target]
		if !ok {
			t.Errorf("no mount at %s in %q", target, r.out)
			continue
		}
		set := strings.Split(o, ",")
		for _, want := range []string{"nosuid", "nodev"} {
			if !slices.Contains(set, want) {
				t.Errorf("volume %s is mounted %s inside, want %s", target, o, want)
			}
		}
	}
}

// TestBindSourceSymlinks: a bind source is reached through symlinks that
// a real host user owns (here root, relative with .., in the middle of the
// path), never through one owned by a sandbox id range; CheckSource sees
// the path of what is mounted and can refuse it before anything starts.
func TestBindSourceSymlinks(t *testing.T) {
	root := newRoot(t)
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.MkdirAll(filepath.Join(real, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(real, "sub", "marker"), []byte("real"), 0o644)
	if err := os.MkdirAll(filepath.Join(dir, "links"), 0o755); err != nil {
		t.Fatal(err)
	}
	hostLink := filepath.Join(dir, "links", "host")
	if err := os.Symlink("../real", hostLink); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(dir, "links", "planted")
	if err := os.Symlink("../real", planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(planted, idSpaceStart+7, idSpaceStart+7); err != nil {
		t.Fatal(err)
	}

	var seen []string
	svc := service("/bin/busybox", "cat", "/v/marker")
	r := run(t, Config{Root: root, Project: "p", Service: svc,
		Mounts:      []ResolvedMount{{Type: MountBind, Source: filepath.Join(hostLink, "sub"), Target: "/v", ReadOnly: true}},
		CheckSource: func(target, p string) error { seen = append(seen, target+"="+p); return nil }})
	if r.out != "real" {
		t.Errorf("through a symlink owned by root: out %q err %q", r.out, r.err)
	}
	if want := "/v=" + filepath.Join(real, "sub"); len(seen) != 1 || seen[0] != want {
		t.Errorf("CheckSource saw %q, want [%s]", seen, want)
	}

	_, err := Create(t.Context(), Config{ID: "planted", Root: root, Project: "p", Service: svc, Stdout: os.Stderr,
		Mounts: []ResolvedMount{{Type: MountBind, Source: filepath.Join(planted, "sub"), Target: "/v"}}})
	for _, want := range []string{"volume /v", planted, "symlink", "owned by uid 1073741831"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("through a symlink owned by a sandbox range: err %v, want it to name %q", err, want)
		}
	}

	// A host user's relative symlink moved by a sandbox into a directory
	// it owns (rename keeps the owner) points elsewhere from there.
	moved := filepath.Join(dir, "vol", "moved")
	if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../real", moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Dir(moved), idSpaceStart+7, idSpaceStart+7); err != nil {
		t.Fatal(err)
	}
	sb, err := Create(t.Context(), Config{ID: "moved", Root: root, Project: "p", Service: svc, Stdout: os.Stderr,
		Mounts: []ResolvedMount{{Type: MountBind, Source: filepath.Join(moved, "sub"), Target: "/v"}}})
	if err == nil {
		sb.Remove(t.Context())
	}
	for _, want := range []string{"volume /v", moved, "in a directory owned by uid 1073741831"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("through a root-owned symlink in a sandbox's directory: err %v, want it to name %q", err, want)
		}
	}

	_, err = Create(t.Context(), Config{ID: "refused", Root: root, Project: "p", Service: svc, Stdout: os.Stderr,
		Mounts:      []ResolvedMount{{Type: MountBind, Source: filepath.Join(hostLink, "sub"), Target: "/v"}},
		CheckSource: func(target, p string) error { return errors.New("not " + p) }})
	if err == nil || !strings.Contains(err.Error(), "not "+filepath.Join(real, "sub")) {
		t.Errorf("CheckSource refusal: err %v", err)
	}
}

// TestBindChown: :U hands a tree owned by host root to the service's user
// (here the sandbox's root) before the mount, so it can write there; as
// with Podman's U the whole tree changes owner (also what another id of the
// range owned); nothing is followed (a symlink's target outside keeps its
// owner), another mount below the source is left alone (even of the same
// file system), and a setuid-root file loses its bit.
func TestBindChown(t *testing.T) {
	root := newRoot(t)
	base, err := ProjectIDRange(root, "p")
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	_ = os.Chmod(src, 0o755)
	outside := filepath.Join(t.TempDir(), "secret")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(outside, nil, 0o600))
	must(os.Mkdir(filepath.Join(src, "d"), 0o755))
	must(os.WriteFile(filepath.Join(src, "d", "f"), []byte("x"), 0o644))
	must(os.WriteFile(filepath.Join(src, "suid"), []byte("x"), 0o755))
	must(os.Chmod(filepath.Join(src, "suid"), 0o4755))
	must(os.WriteFile(filepath.Join(src, "app"), []byte("x"), 0o644))
	must(os.Chown(filepath.Join(src, "app"), int(base)+1000, int(base)+1000))
	must(os.Symlink(outside, filepath.Join(src, "link")))
	// A bind mount of the same file system inside the source.
	other := t.TempDir()
	must(os.WriteFile(filepath.Join(other, "f"), nil, 0o644))
	must(os.Mkdir(filepath.Join(src, "mnt"), 0o755))
	must(unix.Mount(other, filepath.Join(src, "mnt"), "", unix.MS_BIND, ""))
	t.Cleanup(func() { must(unix.Unmount(filepath.Join(src, "mnt"), unix.MNT_DETACH)) })

	svc := service("/bin/busybox", "sh", "-c", "echo hi > /data/new && echo hi > /data/d/new && echo ok")
	r := run(t, Config{Root: root, Project: "p", Service: svc,
		Mounts: []ResolvedMount{{Type: MountBind, Source: src, Target: "/data", Chown: true}}})
	if r.out != "ok\n" {
		t.Errorf("sandbox root writing into a :U volume: out %q err %q", r.out, r.err)
	}
	owner := func(p string) (uint32, uint32) {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Uid, st.Mode
	}
	for _, p := range []string{"", "d", "d/f", "suid", "link", "new", "d/new", "app"} {
		if uid, _ := owner(filepath.Join(src, p)); uid != base {
			t.Errorf("%s owned by %d after :U, want %d", p, uid, base)
		}
	}
	for _, p := range []string{filepath.Join(src, "mnt"), filepath.Join(src, "mnt", "f")} {
		if uid, _ := owner(p); uid != 0 {
			t.Errorf(":U crossed into another mount: %s owned by %d, want 0", p, uid)
		}
	}
	if _, mode := owner(filepath.Join(src, "suid")); mode&syscall.S_ISUID != 0 {
		t.Errorf("setuid bit kept by :U: mode %o", mode)
	}
	if uid, _ := owner(outside); uid != 0 {
		t.Errorf(":U followed a symlink: its target is owned by %d", uid)
	}
}
