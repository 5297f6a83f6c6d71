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
	"nucleus/runtime/cgroups"
)

// hybridV2Dir returns, on a hybrid host, a fresh directory of the
// controller-less v2 tree (/sys/fs/cgroup/unified) for testV2Dir, removed
// at cleanup; on a pure v2 host "": the runtime takes the v2 path by itself.
func hybridV2Dir(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	if cgroups.V2Host() {
		return ""
	}
	unified := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(filepath.Join(unified, "cgroup.procs")); err != nil {
		testutil.Require(t, false, "a v2 hierarchy at "+unified)
	}
	dir := filepath.Join(unified, fmt.Sprintf("nucleus-test-%d", time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove v2 test cgroup: %v", err)
		}
	})
	return dir
}

// TestCloneIntoV2Cgroup exercises the v2 start path (os/exec with
// CLONE_INTO_CGROUP through clone3): on a pure v2 host the init is born in
// the sandbox cgroup and the workload runs in its threaded workload leaf;
// on a hybrid host the controller-less v2 hierarchy at
// /sys/fs/cgroup/unified still accepts a clone into it (the v1 limits apply
// as usual; only the placement path differs).
func TestCloneIntoV2Cgroup(t *testing.T) {
	root := newRoot(t)
	dir := hybridV2Dir(t)
	testV2Dir = dir
	defer func() { testV2Dir = "" }()
	ctx := context.Background()
	sb := startSandbox(t, Config{ID: "v2", Root: root, Service: service("/bin/busybox", "sleep", "10"), Stdout: os.Stderr})
	if _, ok := sb.proc.(*cmdProc); !ok {
		t.Errorf("init was not started through the v2 (os/exec) path: %T", sb.proc)
	}
	v2cg := func(pid int) string { return v2Cgroup(t, fmt.Sprintf("/proc/%d/cgroup", pid)) }
	// Threads of the init by v2 cgroup (/proc/PID/cgroup is the main
	// thread's, which may be the spawner).
	threads := map[string]int{}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/cgroup", sb.PID()))
	for _, f := range tasks {
		threads[v2Cgroup(t, f)]++
	}
	// Born in the v2 cgroup: no migration happened after clone.
	want := "/" + filepath.Base(dir)
	if dir == "" {
		want = sb.cg.Group()
	}
	if dir != "" {
		if threads[want] != len(tasks) {
			t.Errorf("init's threads by v2 cgroup: %v, want all %d in %s", threads, len(tasks), want)
		}
	} else {
		// The spawner thread alone is in the workload leaf, with what it
		// forked; the init's other threads stay in the sandbox cgroup.
		if threads[want+"/"+cgroups.WorkloadLeaf] != 1 || threads[want] != len(tasks)-1 {
			t.Errorf("init's threads by v2 cgroup: %v, want 1 in the workload leaf, the other %d in %s", threads, len(tasks)-1, want)
		}
		wl, err := sb.workloadHostPID()
		if err != nil {
			t.Fatal(err)
		}
		if got := v2cg(wl); got != want+"/"+cgroups.WorkloadLeaf {
			t.Errorf("workload's v2 cgroup: %q, want %s/%s", got, want, cgroups.WorkloadLeaf)
		}
		st, err := sb.Stats()
		if err != nil || st.Pids != 1 {
			t.Errorf("Stats = %+v, %v: want the workload's one task", st, err)
		}
	}
	if err := sb.Stop(ctx, 0, time.Second); err != nil {
		t.Fatal(err)
	}
}

// v2Cgroup is the v2 ("0::") line of a /proc/.../cgroup file.
func v2Cgroup(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	return ""
}
