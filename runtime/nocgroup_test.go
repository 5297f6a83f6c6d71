package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
	"nucleus/runtime/cgroups"
)

// Without a cgroup (the manager of an unprivileged user on a hybrid host),
// the record says which limits nothing enforces, and Stop still kills
// every process the workload started, double-forked daemons ignoring
// SIGTERM included: they die with the init, PID 1 of their namespace.
func TestNoCgroupStopKillsForkedWorkload(t *testing.T) {
	root := newRoot(t)
	old := cgroups.CurrentManager()
	cgroups.SetManager(cgroups.None)
	defer cgroups.SetManager(old)

	// A unique argument finds the workload's processes from the host.
	mark := strconv.Itoa(100000 + int(time.Now().UnixNano()%800000))
	svc := service("/bin/busybox", "sh", "-c", `(trap '' TERM; setsid sh -c "trap '' TERM; sleep `+mark+`" & ) ; trap '' TERM; sleep `+mark)
	svc.Limits = Limits{Memory: 64 << 20, Pids: 20}
	ctx := context.Background()
	sb, err := Create(ctx, Config{ID: "nocg", Root: root, Project: "p", Service: svc, Stdout: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		_ = sb.Remove(ctx)
		t.Fatal(err)
	}
	var procs []int
	testutil.WaitFor(t, "both sleeps", 5*time.Second, func() bool {
		procs = testutil.ProcsWithArg(mark)
		return len(procs) == 2
	})
	rec, err := ReadRecord(root, "nocg")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Cgroup != "" || len(rec.LimitsNotEnforced) != 2 || rec.LimitsNotEnforced[0] != "memory" ||
		rec.LimitsNotEnforced[1] != "pids" || rec.NotEnforcedWhy != "--cgroup-manager none" {
		t.Errorf("record: cgroup %q, not enforced %v (%q); want no cgroup, memory and pids not enforced by --cgroup-manager none",
			rec.Cgroup, rec.LimitsNotEnforced, rec.NotEnforcedWhy)
	}
	for _, c := range []string{"memory", "pids"} {
		if p := filepath.Join("/sys/fs/cgroup", c, "nucleus-"+root.ID(), "nocg"); testutil.FileExists(p) {
			t.Errorf("a cgroup was made: %s", p)
		}
	}
	if _, err := sb.Stats(); err == nil {
		t.Errorf("Stats of a sandbox without a cgroup: no error")
	}
	if err := sb.Stop(ctx, unix.SIGTERM, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "no process of the workload", 5*time.Second, func() bool {
		return len(testutil.ProcsWithArg(mark)) == 0
	})
}
