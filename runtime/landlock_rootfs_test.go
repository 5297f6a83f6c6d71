package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/runtime/landlock"
)

// TestLandlockRootfsDefaults: in a busybox rootfs the default rules come
// from the tree's own top level: its binaries run, /etc and a top-level
// file read; /tmp and a writable volume take writes but nothing written
// there runs, and a symlink planted at the top level towards /tmp opens
// nothing; what only Landlock decides (landlock off allows it).
func TestLandlockRootfsDefaults(t *testing.T) {
	root := newRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	testutil.WriteFile(t, filepath.Join(rootfs, "app.txt"), "app")
	if err := os.Symlink("/tmp", filepath.Join(rootfs, "scratch")); err != nil {
		t.Fatal(err)
	}
	vol := t.TempDir()
	_ = os.Chmod(vol, 0o777) // a writable bind is not idmapped
	script := `cat /etc/passwd >/dev/null && echo "read etc:"; cat /app.txt >/dev/null && echo "read top file:"; ` +
		`echo x > /tmp/f && echo "write tmp:"; echo x > /vol/f && echo "write volume:"; ` +
		`busybox cp /bin/busybox /tmp/true && /tmp/true 2>/dev/null && echo "exec tmp:"; ` +
		`/scratch/true 2>/dev/null && echo "exec through symlink:"; ` +
		`busybox cp /bin/busybox /vol/true && /vol/true 2>/dev/null && echo "exec volume:"; ` +
		`echo x 2>/dev/null > /dev/.f && echo "write dev:"; echo x 2>/dev/null > /etc/new && echo "write etc:"; true`
	run := func(mode string, readOnly bool) map[string]bool {
		svc := service("/bin/sh", "-c", script)
		svc.Rootfs, svc.ReadOnly, svc.Security.Landlock.Mode = rootfs, readOnly, mode
		r := run(t, Config{Root: root, Project: "p", Service: svc,
			Mounts: []ResolvedMount{{Type: MountBind, Source: vol, Target: "/vol"}}})
		if r.st.Code != 0 {
			t.Fatalf("landlock %s: exit %+v, stderr %q", mode, r.st, r.err)
		}
		got := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(r.out), "\n") {
			k, _, _ := strings.Cut(l, ":")
			got[k] = true
		}
		return got
	}
	allowed := []string{"read etc", "read top file", "write tmp", "write volume"}
	denied := []string{"exec tmp", "exec through symlink", "exec volume"}
	for _, readOnly := range []bool{true, false} {
		got := run(landlock.ModeDefault, readOnly)
		for _, k := range allowed {
			if !got[k] {
				t.Errorf("read_only %v: %s: denied by the default rules (got %v)", readOnly, k, got)
			}
		}
		for _, k := range denied {
			if got[k] {
				t.Errorf("read_only %v: %s: allowed by the default rules", readOnly, k)
			}
		}
		if got["write etc"] == readOnly {
			t.Errorf("read_only %v: writing /etc allowed %v", readOnly, got["write etc"])
		}
		// A writable root is "/" read-write (top-level entries can be
		// made), which reaches /dev too; a read-only one's /dev is closed.
		if readOnly && got["write dev"] {
			t.Errorf("read_only root: write dev: allowed by the default rules")
		}
	}
	off := run(landlock.ModeOff, true)
	for _, k := range denied {
		if !off[k] {
			t.Errorf("%s: denied with landlock off too: the default rules' denial proves nothing", k)
		}
	}
}
