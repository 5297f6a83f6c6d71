package runtime

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"nucleus/internal/testutil"
)

// TestSymlinkTargetStaysInRoot: a volume whose target in the rootfs is a
// symlink to / (or climbing out with ..) must never reach the host.
func TestSymlinkTargetStaysInRoot(t *testing.T) {
	root := newRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	src := t.TempDir()
	_ = os.WriteFile(filepath.Join(src, "marker"), []byte("volume"), 0o644)
	if err := os.Symlink("/", filepath.Join(rootfs, "evil")); err != nil {
		t.Fatal(err)
	}
	svc := service("/bin/sh", "-c", "true")
	svc.Rootfs = rootfs
	_, err := Create(context.Background(), Config{ID: "evil", Root: root, Project: "p", Service: svc, Stdout: os.Stderr,
		Mounts: []ResolvedMount{{Type: MountBind, Source: src, Target: "/evil"}}})
	if err == nil || !strings.Contains(err.Error(), "resolves to the sandbox root") {
		t.Fatalf("volume onto a symlink to /: err = %v, want a refusal", err)
	}
	// A symlink that climbs with .. (relative or absolute) resolves inside
	// the rootfs: the volume appears at the rootfs's own /data.
	for i, link := range []string{"../../../../../../../../data", "/../../data"} {
		name := "climb" + string(rune('0'+i))
		if err := os.Symlink(link, filepath.Join(rootfs, name)); err != nil {
			t.Fatal(err)
		}
		svc = service("/bin/sh", "-c", "cat /data/marker")
		svc.Rootfs = rootfs
		r := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: []ResolvedMount{{Type: MountBind, Source: src, Target: "/" + name}}})
		if r.out != "volume" {
			t.Errorf("volume through symlink %s: out %q err %q", link, r.out, r.err)
		}
	}
}

func TestRootfsAndVolumes(t *testing.T) {
	root := newRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	rw := t.TempDir()
	_ = os.Chmod(rw, 0o777) // writable binds are not idmapped: host root's 0755 would refuse the sandbox
	ro := t.TempDir()
	_ = os.WriteFile(filepath.Join(ro, "file"), []byte("ro"), 0o644)
	svc := service("/bin/sh", "-c", `echo hi > /rw/new && echo rw-ok; echo x > /ro/file 2>/dev/null || echo ro-denied; `+
		`echo x > /data/f && echo vol-ok; stat -c %u /data; echo x > /scratch/f && echo tmpfs-ok; echo x > /bin/x 2>/dev/null || echo root-ro; cat /etc/hosts`)
	svc.Rootfs = rootfs
	svc.Volumes = []Volume{{Type: MountVolume, Source: "data", Target: "/data"}}
	mounts, err := ResolveMounts(Config{Root: root, Project: "p", Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	mounts = append(mounts,
		ResolvedMount{Type: MountBind, Source: rw, Target: "/rw"},
		ResolvedMount{Type: MountBind, Source: ro, Target: "/ro", ReadOnly: true},
		ResolvedMount{Type: MountTmpfs, Target: "/scratch", Size: 1 << 20})
	r := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts,
		Files: map[string][]byte{"/etc/hosts": []byte("10.0.0.1 db\n")}})
	for _, want := range []string{"rw-ok", "ro-denied", "vol-ok", "\n0\n", "tmpfs-ok", "root-ro", "10.0.0.1 db"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("missing %q in output %q (stderr %q)", want, r.out, r.err)
		}
	}
	// Not idmapped: the file written by container root belongs to the
	// project's container root on the host, not to host root.
	base, _ := ProjectIDRange(root, "p")
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(rw, "new"), &st); err != nil {
		t.Fatalf("file written into the rw volume: %v", err)
	}
	if st.Uid != base {
		t.Errorf("file written by container root into a writable bind is owned by %d, want %d", st.Uid, base)
	}
	// The named volume persists and belongs to the project's container root.
	if err := syscall.Stat(VolumeDir(root, "p", "data"), &st); err != nil || st.Uid != base {
		t.Errorf("named volume owner %d (%v), want %d", st.Uid, err, base)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "bin/x")); err == nil {
		t.Error("read-only rootfs was written")
	}
}

func TestWritableRootOverlay(t *testing.T) {
	root := newRoot(t)
	svc := service("/bin/busybox", "sh", "-c", "echo x > /usr/nucleus-overlay-test && cat /usr/nucleus-overlay-test && mkdir /newdir && echo ok && grep ' /usr ' /proc/self/mountinfo")
	svc.ReadOnly = false
	r := run(t, Config{Root: root, Project: "p", Service: svc})
	if !strings.HasPrefix(r.out, "x\nok\n") {
		t.Errorf("writable root: out %q err %q", r.out, r.err)
	}
	// The writable overlays (here on /usr) carry nosuid and nodev.
	if opts := strings.Fields(r.out + " . . . . . ."); len(opts) < 8 ||
		!strings.Contains(opts[7], "nosuid") || !strings.Contains(opts[7], "nodev") {
		t.Errorf("overlay on /usr: %q, want nosuid,nodev", r.out)
	}
	if _, err := os.Stat("/usr/nucleus-overlay-test"); err == nil {
		os.Remove("/usr/nucleus-overlay-test")
		t.Fatal("write to the overlay reached the host's /usr")
	}
}

func TestWorkdirAndUser(t *testing.T) {
	root := newRoot(t)
	svc := service("/bin/busybox", "sh", "-c", "pwd; id -u; id -g")
	svc.Process.WorkingDir = "/tmp"
	svc.Process.User = "1000:1001"
	r := run(t, Config{Root: root, Project: "p", Service: svc})
	if r.out != "/tmp\n1000\n1001\n" {
		t.Errorf("workdir/user: out %q err %q", r.out, r.err)
	}
	svc = service("/bin/busybox", "true")
	svc.Process.WorkingDir = "/does/not/exist"
	sb, err := Create(context.Background(), Config{ID: "wd", Root: root, Project: "p", Service: svc, Stdout: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Remove(context.Background())
	if err := sb.Start(); err == nil || !strings.Contains(err.Error(), "working directory") {
		t.Errorf("missing workdir: start err = %v", err)
	}
}

// TestFileOverDanglingSymlink: a generated /etc/resolv.conf lands where a
// rootfs's symlink (systemd-resolved style) points, inside the sandbox.
func TestFileOverDanglingSymlink(t *testing.T) {
	root := newRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	if err := os.Symlink("../run/systemd/resolve/stub-resolv.conf", filepath.Join(rootfs, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	svc := service("/bin/sh", "-c", "cat /etc/resolv.conf; id -u")
	svc.Rootfs = rootfs
	svc.Process.User = "app"
	r := run(t, Config{Root: root, Project: "p", Service: svc, Files: map[string][]byte{"/etc/resolv.conf": []byte("nameserver 10.0.0.53\n")}})
	if r.out != "nameserver 10.0.0.53\n1000\n" {
		t.Errorf("out %q err %q", r.out, r.err)
	}
}

// What a workload writes into a named volume with the default umask is not
// readable by other local users of the host.
func TestNamedVolumeHiddenFromOtherUsers(t *testing.T) {
	root := newRoot(t)
	// Open up the test's own temporary directories as a real data root is.
	for d := filepath.Dir(root.Data); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	svc := service()
	svc.Volumes = []Volume{{Type: MountVolume, Source: "db", Target: "/db"}}
	if _, err := ResolveMounts(Config{Root: root, Project: "p", Service: svc}); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(VolumeDir(root, "p", "db"), "secret")
	testutil.WriteFile(t, secret, "s3cret\n")
	try := func(args ...string) error {
		cmd := exec.Command("/bin/busybox", args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return cmd.Run()
	}
	// The test must be able to fail: nobody reaches into the data root.
	open := filepath.Join(root.Data, "open")
	if err := os.WriteFile(open, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := try("cat", open); err != nil {
		t.Fatalf("nobody cannot read %s: %v", open, err)
	}
	if err := try("cat", secret); err == nil {
		t.Errorf("user nobody read %s", secret)
	}
	if err := try("ls", filepath.Join(root.Data, "volumes", "p")); err == nil {
		t.Errorf("user nobody listed the project's volumes")
	}
}
