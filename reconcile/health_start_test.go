package reconcile_test

import (
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/reconcile/reconciletest"
	"nucleus/spec"
)

// healthStartInterval is a db whose checks pass from the third on, checked
// every hour, or every 20 ms during a start period of startPeriod.
func healthStartInterval(startPeriod time.Duration) *spec.Service {
	db := svc("db")
	db.Healthcheck = &spec.Healthcheck{Kind: spec.HealthExec, Test: []string{"CMD", "true"}, Retries: 3,
		Interval: spec.Duration(time.Hour), StartPeriod: spec.Duration(startPeriod), StartInterval: spec.Duration(20 * time.Millisecond)}
	return db
}

// healthcheck.start_interval: during the start period the checks come every
// start_interval, so a service that is ready after a moment turns healthy
// then and not an interval later; after the first success the interval
// applies again.
func TestHealthStartInterval(t *testing.T) {
	w := reconciletest.NewWorld()
	w.HealthyAt("db", 3)
	sv := newSupervisor(t, w)
	loopOver(t, sv, project(nil, healthStartInterval(time.Minute)))
	testutil.WaitFor(t, "db healthy through start_interval checks (interval 1h)", 5*time.Second, func() bool {
		rec, _ := sv.Store.LoadSandbox("shop", "db", 1)
		return rec != nil && rec.State == reconcile.StateHealthy
	})
	n := w.Checks("db")
	time.Sleep(200 * time.Millisecond)
	if got := w.Checks("db"); got != n {
		t.Errorf("%d checks in 200 ms after db turned healthy; want none (the 1h interval applies after the first success)", got-n)
	}
}

// Without a start period, start_interval changes nothing (as in Compose):
// the first check runs at once and the next an interval later.
func TestHealthStartIntervalNeedsStartPeriod(t *testing.T) {
	w := reconciletest.NewWorld()
	w.HealthyAt("db", 3)
	sv := newSupervisor(t, w)
	loopOver(t, sv, project(nil, healthStartInterval(0)))
	testutil.WaitFor(t, "first check", 5*time.Second, func() bool { return w.Checks("db") >= 1 })
	time.Sleep(200 * time.Millisecond)
	if got := w.Checks("db"); got != 1 {
		t.Errorf("%d checks within 200 ms without a start period; want 1", got)
	}
}
