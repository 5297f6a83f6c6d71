package runtime

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/runtime/sbinit"
)

// TestRootfsIdmapKeepsImageOwners: files of a rootfs owned by uid/gid 999
// on the host (an image's service user) show as 999 inside a sandbox with a
// private user namespace, host root's as root; 999 can write its own
// directory; a writable layer keeps the owner through copy-up, as the
// project's id 999 on the host.
//
// Not covered: a file system that refuses idmapped mounts (the rootfs is
// then used as is, Record.Idmapped false; see doc.go).
func TestRootfsIdmapKeepsImageOwners(t *testing.T) {
	root := newRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	testutil.WriteFile(t, filepath.Join(rootfs, "etc/app.conf"), "conf\n")
	// World-writable: root inside holds no CAP_DAC_OVERRIDE, and the copy-up
	// below is what is checked.
	if err := os.Chmod(filepath.Join(rootfs, "etc/app.conf"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"etc/app.conf", "data"} {
		if err := os.Chown(filepath.Join(rootfs, p), 999, 999); err != nil {
			t.Fatal(err)
		}
	}
	script := "stat -c '%u:%g' /etc/app.conf /data /etc/passwd"
	svc := service("/bin/sh", "-c", script)
	svc.Rootfs = rootfs
	r := run(t, Config{Root: root, Project: "p", Service: svc})
	if want := "999:999\n999:999\n0:0\n"; r.out != want {
		t.Errorf("owners inside: %q (err %q), want %q", r.out, r.err, want)
	}
	if !r.sb.Record().Idmapped {
		t.Errorf("record: the rootfs was not idmapped (this file system supports it)")
	}

	upper := filepath.Join(t.TempDir(), "web-1")
	runWritable(t, Config{ID: "idw", Root: root}, rootfs, upper,
		"echo more >> /etc/app.conf && "+script, "999:999\n999:999\n0:0\n", sbinit.WritableUpper)
	base, _ := ProjectIDRange(root, "p")
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(upper, "upper/etc/app.conf"), &st); err != nil || st.Uid != base+999 || st.Gid != base+999 {
		t.Errorf("copied-up file on the host: %d:%d (%v), want %d:%d", st.Uid, st.Gid, err, base+999, base+999)
	}
}

// TestShiftedCopyWhereIdmapIsRefused: a rootfs on a file system that
// refuses idmapped mounts (overlayfs here) runs on a shifted copy: its
// uid 999 files show as 999 inside, host root's as root; the copy next to
// the tree is shared by the project's sandboxes and goes with the last.
func TestShiftedCopyWhereIdmapIsRefused(t *testing.T) {
	root := newRoot(t)
	tree := testutil.BusyboxRootfs(t)
	if err := os.Chown(filepath.Join(tree, "data"), 999, 999); err != nil {
		t.Fatal(err)
	}
	// The tree seen through an overlayfs mount, which cannot be idmapped.
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "ovl")
	for _, d := range []string{rootfs, dir + "/u", dir + "/w"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("overlay", rootfs, "overlay", 0, "lowerdir="+tree+",upperdir="+dir+"/u,workdir="+dir+"/w"); err != nil {
		testutil.Require(t, false, "overlayfs: "+err.Error())
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(rootfs, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount the test's overlay: %v", err)
		}
	})
	svc := service("/bin/sleep", "1000")
	svc.Rootfs = rootfs
	first := startSandbox(t, Config{ID: "shift1", Root: root, Service: svc})
	rec := first.Record()
	if rec.Idmapped || rec.Shifted == "" {
		t.Fatalf("record over overlayfs: idmapped %v, shifted %q: want a shifted copy", rec.Idmapped, rec.Shifted)
	}
	svc = service("/bin/sh", "-c", "stat -c '%u:%g' /data /etc/passwd")
	svc.Rootfs = rootfs
	r := run(t, Config{ID: "shift2", Root: root, Project: "p", Service: svc})
	if want := "999:999\n0:0\n"; r.out != want {
		t.Errorf("owners inside the shifted copy: %q (err %q), want %q", r.out, r.err, want)
	}
	if got := r.sb.Record().Shifted; got != rec.Shifted {
		t.Errorf("second sandbox of the project on %q, want the first's copy %q", got, rec.Shifted)
	}
	if !testutil.FileExists(rec.Shifted) {
		t.Errorf("shifted copy %s removed while sandbox shift1 still runs on it", rec.Shifted)
	}
	if err := first.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}
	if testutil.FileExists(rec.Shifted) {
		t.Errorf("shifted copy %s left after its last sandbox", rec.Shifted)
	}
}
