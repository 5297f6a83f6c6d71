package reconcile_test

import (
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/reconcile/reconciletest"
	"nucleus/spec"
)

// TestSupervisorRecordsHealthOnceDiskFreed: a health change that a full
// disk kept from being recorded shows in the supervisor's status at once and
// is recorded once there is space again; it used to stay "starting" for
// good, for ps and up --wait too.
func TestSupervisorRecordsHealthOnceDiskFreed(t *testing.T) {
	testutil.RequireRoot(t)
	w := reconciletest.NewWorld()
	w.HealthyAt("db", 1<<30) // not before the disk is full
	sv := newSupervisor(t, w)
	root := testutil.TempRoot(t)
	fs := testutil.MountSmallFS(t, root.Run, 256<<10)
	sv.Store = reconcile.NewStore(root)
	db := svc("db")
	db.Healthcheck = &spec.Healthcheck{Kind: spec.HealthExec, Test: []string{"CMD", "true"}, Interval: spec.Duration(10 * time.Millisecond),
		StartPeriod: spec.Duration(time.Hour)} // failures do not count
	mustPass(t, sv, project(nil, db))
	state := func() reconcile.RunState {
		recs, err := sv.Store.LoadSandboxes("shop")
		if err != nil || len(recs) != 1 {
			t.Fatalf("records: %v %v", recs, err)
		}
		return recs[0].State
	}
	if st := state(); st != reconcile.StateStarting {
		t.Fatalf("db recorded %s, want starting", st)
	}
	fs.Fill(t)
	w.HealthyAt("db", w.Checks("db")+1)
	testutil.WaitFor(t, "db's check to pass", 5*time.Second, func() bool { return w.Index("healthy shop.db.1") >= 0 })
	if st := state(); st != reconcile.StateStarting {
		t.Fatalf("db recorded %s on a full disk", st)
	}
	// What ps and up --wait get from this supervisor is what is true.
	reps, err := sv.Store.StatusCurrent("shop", nil, nil, time.Now(), sv.Current)
	if err != nil || len(reps) != 1 || reps[0].State != reconcile.StateHealthy || reps[0].Health != "healthy" {
		t.Errorf("status from the supervisor on a full disk: %+v %v; want db healthy", reps, err)
	}
	fs.Free(t)
	testutil.WaitFor(t, "db recorded healthy once the disk has space", 5*time.Second, func() bool { return state() == reconcile.StateHealthy })
	// Down works from the records; the fake world has nothing else to leave.
	if err := sv.Down(t.Context()); err != nil {
		t.Fatalf("down: %v", err)
	}
}
