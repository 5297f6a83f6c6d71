package oneoff

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/runtime/cgroups"
)

// A name whose run is alive is refused (its record must not be overwritten);
// End drops the record.
func TestBeginRefusesANameOfALiveRun(t *testing.T) {
	root := testutil.TempRoot(t)
	ctx := context.Background()
	r, err := Begin(ctx, root, "job", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Begin(ctx, root, "job", nil); !errors.Is(err, network.ErrNameTaken) {
		t.Errorf("second Begin of a live name: %v, want ErrNameTaken", err)
	}
	if cleaned, err := Sweep(ctx, root); err != nil || len(cleaned) != 0 {
		t.Errorf("Sweep with a live owner: cleaned %v, %v; want nothing", cleaned, err)
	}
	if err := r.End(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(recordPath(root, "job")); !os.IsNotExist(err) {
		t.Errorf("record after End: %v", err)
	}
	for _, bad := range []string{"", "..", "a/b", "shop.web.1"} {
		if _, err := Begin(ctx, root, bad, nil); err == nil {
			t.Errorf("Begin(%q) accepted", bad)
		}
	}
}

// A record whose owner died (pid gone, or pid reused: other start time) is
// swept; the name is free again.
func TestSweepRemovesRecordsOfDeadOwners(t *testing.T) {
	root := testutil.TempRoot(t)
	ctx := context.Background()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := &Run{root: root, rec: Record{ID: "gone", PID: cmd.Process.Pid, StartTime: 1}}
	st, err := procstat.StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	reused := &Run{root: root, rec: Record{ID: "reused", PID: os.Getpid(), StartTime: st + 1}}
	for _, r := range []*Run{dead, reused} {
		if err := r.write(); err != nil {
			t.Fatal(err)
		}
	}
	cleaned, err := Sweep(ctx, root)
	if err != nil || len(cleaned) != 2 {
		t.Fatalf("Sweep: cleaned %v, %v; want gone and reused", cleaned, err)
	}
	if left, _ := os.ReadDir(runsDir(root)); len(left) != 0 {
		t.Errorf("records left: %v", left)
	}
	r, err := Begin(ctx, root, "gone", nil)
	if err != nil {
		t.Fatalf("Begin after the sweep: %v", err)
	}
	r.End(ctx)
}

// A run killed inside Create leaves a state directory without a sandbox
// record, and maybe a cgroup: the next Sweep removes both, without error.
func TestSweepRemovesASandboxKilledBeforeItsRecord(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	ctx := context.Background()
	writeDeadRun(t, root, "half")
	if err := os.MkdirAll(filepath.Join(root.Run, "sandboxes", "half"), 0o711); err != nil {
		t.Fatal(err)
	}
	if _, err := cgroups.New(root, "half", cgroups.Resources{Pids: 16}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cgroups.Purge(ctx, root, "half") }) // when the sweep failed
	cleaned, err := Sweep(ctx, root)
	if err != nil || len(cleaned) != 1 {
		t.Fatalf("Sweep: cleaned %v, %v; want half", cleaned, err)
	}
	if _, err := os.Stat(filepath.Join(root.Run, "sandboxes", "half")); !os.IsNotExist(err) {
		t.Errorf("state directory after the sweep: %v", err)
	}
	if leaks, err := cgroups.Leaks(root); err != nil || len(leaks) != 0 {
		t.Errorf("cgroups after the sweep: %v, %v", leaks, err)
	}
}

// Claiming a name waits while a sweep holds the runs lock (a sweep may be
// removing the sandbox of that very name).
func TestBeginWaitsForARunningSweep(t *testing.T) {
	root := testutil.TempRoot(t)
	ctx := context.Background()
	unlock, err := lockRuns(root)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		r, err := Begin(ctx, root, "job", nil)
		if err == nil {
			err = r.End(ctx)
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Begin finished while the runs lock was held: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Begin still waits after the lock was released")
	}
}

// A run killed inside its sandbox's Remove may have lost the state
// directory but kept the cgroup (they go in parallel): the sweep removes it.
func TestSweepRemovesACgroupWithoutStateDirectory(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	ctx := context.Background()
	writeDeadRun(t, root, "late")
	if _, err := cgroups.New(root, "late", cgroups.Resources{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cgroups.Purge(ctx, root, "late") }) // when the sweep failed
	if cleaned, err := Sweep(ctx, root); err != nil || len(cleaned) != 1 {
		t.Fatalf("Sweep: cleaned %v, %v; want late", cleaned, err)
	}
	if leaks, err := cgroups.Leaks(root); err != nil || len(leaks) != 0 {
		t.Errorf("cgroups after the sweep: %v, %v", leaks, err)
	}
}

// writeDeadRun records a run of id whose owner process has exited.
func writeDeadRun(t *testing.T, root rootdir.Root, id string) {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := &Run{root: root, rec: Record{ID: id, PID: cmd.Process.Pid, StartTime: 1}}
	if err := dead.write(); err != nil {
		t.Fatal(err)
	}
}
