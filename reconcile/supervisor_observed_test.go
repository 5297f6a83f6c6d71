package reconcile_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/reconcile/reconciletest"
)

// issue 11: the supervisor's memory is the observed state. Records changed
// on disk behind a running supervisor's back (deleted, garbled, rewritten)
// change nothing it plans, and it records its own state again.
func TestSupervisorPassDoesNotReadStore(t *testing.T) {
	w := reconciletest.NewWorld()
	w.ExitAfter("job", reconciletest.Exit{After: 5 * time.Millisecond})
	sv := newSupervisor(t, w)
	p := project(nil, svc("web", replicas(2)), svc("job", restartPolicy("no", 0)))
	mustPass(t, sv, p)
	testutil.WaitFor(t, "job's exit recorded", 5*time.Second, func() bool {
		rec, _ := sv.Store.LoadSandbox("shop", "job", 1)
		return rec != nil && rec.State == reconcile.StateExited
	})
	if err := os.Remove(sv.Store.SandboxPath("shop", "job", 1)); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, sv.Store.SandboxPath("shop", "web", 1), "{garbled")
	rec, err := sv.Store.LoadSandbox("shop", "web", 2)
	if err != nil || rec == nil {
		t.Fatalf("record of web-2: %v, %v", rec, err)
	}
	hash := rec.Hash
	rec.Hash = "changed-on-disk"
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, sv.Store.SandboxPath("shop", "web", 2), string(b))

	if steps := mustPass(t, sv, p); len(steps) != 0 {
		t.Fatalf("plan %v, want nothing: the supervisor knows web runs and job exited", steps)
	}
	for _, want := range []struct {
		service string
		n       int
		state   reconcile.RunState
	}{{"web", 1, reconcile.StateRunning}, {"web", 2, reconcile.StateRunning}, {"job", 1, reconcile.StateExited}} {
		rec, err := sv.Store.LoadSandbox("shop", want.service, want.n)
		if err != nil || rec == nil || rec.State != want.state {
			t.Errorf("record of %s-%d after the pass: %+v, %v; want it recorded again, %s", want.service, want.n, rec, err, want.state)
		}
	}
	if rec, _ := sv.Store.LoadSandbox("shop", "web", 2); rec != nil && rec.Hash != hash {
		t.Errorf("web-2 recorded with hash %q, want the supervisor's %q", rec.Hash, hash)
	}
	if n := w.Count("create "); n != 3 {
		t.Errorf("%d creates, want 3 (nothing started again): %v", n, w.Events())
	}
}

// BenchmarkNoopPass50 is a pass that has nothing to do over 50 running
// replicas: what every file save or exit elsewhere costs the project.
func BenchmarkNoopPass50(b *testing.B) {
	w := reconciletest.NewWorld()
	sv := reconciletest.NewSupervisor(b, w, testutil.TempRoot(b), "shop")
	p := project(nil, svc("web", replicas(50)))
	mustPass(b, sv, p)
	b.ReportAllocs()
	for b.Loop() {
		if steps := mustPass(b, sv, p); len(steps) != 0 {
			b.Fatalf("plan %v, want nothing", steps)
		}
	}
}
