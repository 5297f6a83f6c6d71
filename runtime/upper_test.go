package runtime

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/runtime/sbinit"
)

// runWritable runs script in a sandbox of project "p" whose writable root
// is rootfs ("": the host view) with upper as Config.UpperDir, and checks
// its output and the writable layer its record names.
func runWritable(t *testing.T, base Config, rootfs, upper, script, wantOut, wantLayer string) {
	t.Helper()
	svc := service("/bin/sh", "-c", script)
	if rootfs == "" {
		svc.Process.Args = append([]string{"/bin/busybox"}, "sh", "-c", script)
	}
	svc.Rootfs, svc.ReadOnly = rootfs, false
	cfg := base
	cfg.Project, cfg.UpperDir, cfg.Service = "p", upper, svc
	r := run(t, cfg)
	if r.out != wantOut {
		t.Errorf("%s (upper directory %q): out %q err %q, want %q", cfg.ID, upper, r.out, r.err, wantOut)
	}
	if w := r.sb.Record().Writable; w != wantLayer {
		t.Errorf("%s (upper directory %q): record says the writable layer is %q, want %q", cfg.ID, upper, w, wantLayer)
	}
}

// TestUpperDirKeepsWritesAcrossSandboxes: with Config.UpperDir, what the
// workload writes into a writable rootfs is there for the next sandbox
// given the same directory (a restart of the replica), is owned on the
// host by the project's range, never touches the rootfs, and the record
// says the layer is on disk. Without UpperDir the layer is a tmpfs, gone
// with its sandbox.
func TestUpperDirKeepsWritesAcrossSandboxes(t *testing.T) {
	root := newRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	upper := filepath.Join(t.TempDir(), "upper", "web-1")
	runWritable(t, Config{ID: "up1", Root: root}, rootfs, upper,
		"echo kept > /etc/marker && rm /etc/hosts && echo written", "written\n", sbinit.WritableUpper)
	if testutil.FileExists(filepath.Join(rootfs, "etc/marker")) || !testutil.FileExists(filepath.Join(rootfs, "etc/hosts")) {
		t.Errorf("the writable layer changed the rootfs itself")
	}
	base, _ := ProjectIDRange(root, "p")
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(upper, "upper/etc/marker"), &st); err != nil || st.Uid != base {
		t.Errorf("file written by container root in the upper directory: uid %d (%v), want the range's %d", st.Uid, err, base)
	}
	runWritable(t, Config{ID: "up2", Root: root}, rootfs, upper,
		"cat /etc/marker; ls /etc/hosts 2>/dev/null || echo hosts-gone", "kept\nhosts-gone\n", sbinit.WritableUpper)
	runWritable(t, Config{ID: "up3", Root: root}, rootfs, "",
		"cat /etc/marker 2>/dev/null || echo no-marker; echo x > /etc/t && echo tmp-written", "no-marker\ntmp-written\n", sbinit.WritableTmpfs)
}

// TestUpperDirFallsBackToTmpfs: an upper directory overlayfs refuses (on a
// read-only file system here) still gives a writable root, in memory, and
// the record says so.
func TestUpperDirFallsBackToTmpfs(t *testing.T) {
	root := newRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	fs := testutil.MountSmallFS(t, filepath.Join(t.TempDir(), "ro"), 1<<20)
	upper := filepath.Join(fs.Dir, "web-1")
	base, err := ProjectIDRange(root, "p")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{upper, upper + "/upper", upper + "/work"} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, int(base), int(base)); err != nil {
			t.Fatal(err)
		}
	}
	fs.SetReadOnly(t, true)
	runWritable(t, Config{ID: "upfb", Root: root}, rootfs, upper,
		"echo x > /etc/marker && cat /etc/marker", "x\n", sbinit.WritableTmpfs)
}

// TestHostViewWritableStaysTmpfs: read_only false on the host view keeps
// its tmpfs layers even with an upper directory: nothing of the host's
// system directories is written to disk.
func TestHostViewWritableStaysTmpfs(t *testing.T) {
	root := newRoot(t)
	upper := filepath.Join(t.TempDir(), "web-1")
	runWritable(t, Config{ID: "uphv", Root: root}, "", upper,
		"echo x > /etc/nucleus-upper-test && cat /etc/nucleus-upper-test", "x\n", sbinit.WritableTmpfs)
	if testutil.FileExists(upper) || testutil.FileExists("/etc/nucleus-upper-test") {
		t.Errorf("the host view's writable layer reached the disk")
	}
}

// TestUpperDirRootOpenToWorkloadUser: the writable layer's upper/ is the
// merged root's own directory, so its mode is what a workload user sees
// at /: a user other than root must enter it (an image service with
// `user: app` and read_only: false failed with "landlock rule /bin:
// permission denied" when upper/ was 0700), also for a directory an
// earlier version created 0700.
func TestUpperDirRootOpenToWorkloadUser(t *testing.T) {
	root := newRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	upper := filepath.Join(t.TempDir(), "upper", "web-1")
	if err := os.MkdirAll(upper+"/upper", 0o700); err != nil {
		t.Fatal(err)
	}
	svc := service("/bin/sh", "-c", "ls -d /bin && echo x > /tmp/ok && cat /tmp/ok")
	svc.Rootfs, svc.ReadOnly, svc.Process.User = rootfs, false, "999:999"
	r := run(t, Config{ID: "upu", Root: root, Project: "p", UpperDir: upper, Service: svc})
	if r.out != "/bin\nx\n" {
		t.Errorf("as uid 999 on a writable layer: out %q err %q", r.out, r.err)
	}
}
