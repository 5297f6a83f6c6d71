package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/runtime"
)

// TestRunVolumeOwners (issue 9, finding 2, as reported): `nucleus run -v
// DIR:/vol` whose workload copies a binary and makes it setuid leaves a
// file owned by the run's id range, not by host root; with :U the sandbox
// may write to a directory host root owns.
func TestRunVolumeOwners(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	owner := func(p string) (uint32, uint32) {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Uid, st.Mode
	}

	vol := filepath.Join(dir, "vol")
	if err := os.Mkdir(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(vol, 0o777)
	if code, msg := runArgs(t, root, "-v", vol+":/vol", "--", "/bin/busybox", "sh", "-c", "cp /bin/busybox /vol/py && chmod 4755 /vol/py"); code != 0 {
		t.Fatalf("workload: code %d %s", code, msg)
	}
	if uid, mode := owner(filepath.Join(vol, "py")); uid < 1<<30 {
		t.Errorf("file planted by sandbox root is owned by host uid %d (mode %o), want one of the sandbox's range", uid, mode)
	}

	owned := filepath.Join(dir, "owned")
	if err := os.Mkdir(owned, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, msg := runArgs(t, root, "-v", owned+":/vol:U", "--", "/bin/busybox", "sh", "-c", "echo x > /vol/f"); code != 0 {
		t.Fatalf("writing into a :U volume: code %d %s", code, msg)
	}
	if uid, _ := owner(filepath.Join(owned, "f")); uid < 1<<30 {
		t.Errorf("file written through :U owned by %d", uid)
	}
	if leaks, err := runtime.LeakCheck(rootdirOf(root)); err != nil || len(leaks) > 0 {
		t.Errorf("after nucleus run: leaks %v %v", leaks, err)
	}
}
