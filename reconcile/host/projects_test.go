package host

import (
	"testing"

	"nucleus/internal/testutil"
	"nucleus/reconcile"
)

// A replica whose sandbox is gone while its record still says it runs is
// exited when its project's supervisor runs (it is recording the exit:
// nucleus ls right after a short job ended showed "dead(1)"), and dead
// when none does.
func TestProjectsNamesAGoneSandbox(t *testing.T) {
	root := testutil.TempRoot(t)
	store := reconcile.NewStore(root)
	rec := &reconcile.SandboxRecord{Project: "p", Service: "job", Replica: 1, ID: "p.job.1",
		InitPID: 1, InitStart: 1, BootID: reconcile.BootID(), State: reconcile.StateRunning}
	if err := store.SaveSandbox(rec); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		supervised bool
		want       string
	}{{true, "exited(1)"}, {false, "dead(1)"}} {
		ps, err := Projects(root, func(string) bool { return c.supervised })
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 || ps[0].Status != c.want || ps[0].Running != 0 {
			t.Errorf("supervised %v: %+v, want status %s and nothing running", c.supervised, ps, c.want)
		}
	}
}
