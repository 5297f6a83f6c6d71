package host

import (
	"testing"
	"time"

	"nucleus/reconcile"
)

const crashYAML = `services:
  crash:
    command: ["/bin/sh", "-c", "exit 3"]
    restart: always
`

// TestCrashloopBacksOffEndToEnd: a real sandbox that exits at once is
// restarted with growing delays and then shows as crashloop with the time
// of its next attempt.
func TestCrashloopBacksOffEndToEnd(t *testing.T) {
	e := newE2E(t)
	e.runProject(crashYAML, func(sv *reconcile.Supervisor) {
		sv.Backoff.Initial, sv.Backoff.Max, sv.Backoff.Rand, sv.Backoff.CrashloopAfter = 100*time.Millisecond, 5*time.Second, nil, 3
	})

	// Read the back-off decisions from the record: each exit records when
	// the next attempt may start; the wait (next attempt - exit) must double,
	// and no start may come before its attempt time. Start-to-start times
	// would also include sandbox teardown and creation, which vary.
	store := reconcile.NewStore(e.root)
	type wait struct {
		restarts int
		state    reconcile.RunState
		d        time.Duration
	}
	var waits []wait
	for _, rec := range e.backoffDecisions(store, "crash", 5, "exits") {
		if rec.ExitCode != 3 {
			t.Fatalf("recorded exit code %d, want 3", rec.ExitCode)
		}
		waits = append(waits, wait{rec.Restart.Restarts, rec.State, rec.Restart.NextAttempt.Sub(rec.ExitedAt)})
	}
	t.Logf("waits before the next attempt: %+v", waits)
	for i, w := range waits {
		want := 100 * time.Millisecond << i
		if w.restarts != i || w.d < want || w.d > want+want/10 {
			t.Errorf("exit %d: %d restarts, wait %v; want %d restarts and a wait of about %v", i+1, w.restarts, w.d, i, want)
		}
		wantState := reconcile.StateBackoff
		if w.restarts >= 3 {
			wantState = reconcile.StateCrashloop
		}
		if w.state != wantState {
			t.Errorf("exit %d after %d restarts: state %s, want %s", i+1, w.restarts, w.state, wantState)
		}
	}
}
