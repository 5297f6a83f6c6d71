package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// TestCloneIntoV2Cgroup exercises the v2 start path (os/exec with
// CLONE_INTO_CGROUP through clone3) on this hybrid host: the controller-less
// v2 hierarchy at /sys/fs/cgroup/unified still accepts a clone into it. The
// v1 limits apply as usual; only the placement path differs.
func TestCloneIntoV2Cgroup(t *testing.T) {
	root := newRoot(t)
	unified := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(filepath.Join(unified, "cgroup.procs")); err != nil {
		testutil.Require(t, false, "a v2 hierarchy at "+unified)
	}
	dir := filepath.Join(unified, fmt.Sprintf("nucleus-test-%d", time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove v2 test cgroup: %v", err)
		}
	}()
	testV2Dir = dir
	defer func() { testV2Dir = "" }()
	ctx := context.Background()
	sb, err := Create(ctx, Config{ID: "v2", Root: root, Project: "p", Service: service("/bin/busybox", "sleep", "10"), Stdout: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Remove(ctx)
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	if _, ok := sb.proc.(*cmdProc); !ok {
		t.Errorf("init was not started through the v2 (os/exec) path: %T", sb.proc)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", sb.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	// Born in the v2 cgroup: no migration happened after clone.
	if !strings.Contains(string(b), "0::/"+filepath.Base(dir)+"\n") {
		t.Errorf("init's cgroups: %q, want the v2 cgroup %s", b, dir)
	}
	if err := sb.Stop(ctx, 0, time.Second); err != nil {
		t.Fatal(err)
	}
}
