package reconcile

import (
	"math/rand/v2"
	"time"
)

// Backoff is the restart back-off: Initial doubling up to Max, with a
// relative Jitter, reset once a replica has run ResetAfter without exiting.
// A replica with CrashloopAfter or more consecutive restarts (that is,
// restarts inside the back-off window, none of them stable) is in crashloop.
type Backoff struct {
	Initial        time.Duration
	Max            time.Duration
	Jitter         float64 // 0.1 = ±10%
	ResetAfter     time.Duration
	CrashloopAfter int
	// Rand returns a number in [0, 1); injectable so tests are exact.
	Rand func() float64
}

// DefaultBackoff is 1 s doubling to 5 min, ±10% jitter, reset after 10 min
// of stable running, crashloop from the 5th consecutive restart.
func DefaultBackoff() Backoff {
	return Backoff{
		Initial:        time.Second,
		Max:            5 * time.Minute,
		Jitter:         0.1,
		ResetAfter:     10 * time.Minute,
		CrashloopAfter: 5,
		Rand:           rand.Float64,
	}
}

// RestartState is the back-off bookkeeping of one replica (kept in its
// state record so a restarted supervisor continues the same back-off).
type RestartState struct {
	// Restarts counts consecutive restarts since the last stable run.
	Restarts int `json:"restarts"`
	// Total counts every restart, for ps.
	Total       int       `json:"total"`
	LastStart   time.Time `json:"last_start,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// Delay is the wait before consecutive restart number n (0 = the first).
// Jitter is applied to the doubled delay and the result never exceeds Max.
func (b Backoff) Delay(n int) time.Duration {
	d := b.Initial
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 && b.Rand != nil {
		d = time.Duration(float64(d) * (1 + b.Jitter*(2*b.Rand()-1)))
	}
	return min(d, b.Max)
}

// Exited records an exit at now and schedules the next attempt. A replica
// that ran for ResetAfter or longer starts over at Initial.
func (b Backoff) Exited(st RestartState, now time.Time) RestartState {
	if !st.LastStart.IsZero() && now.Sub(st.LastStart) >= b.ResetAfter {
		st.Restarts = 0
	}
	st.NextAttempt = now.Add(b.Delay(st.Restarts))
	return st
}

// Started records a restart at now (call it when the replica is started
// again after an exit, not for its first start).
func (st RestartState) Started(now time.Time) RestartState {
	st.Restarts++
	st.Total++
	st.LastStart = now
	st.NextAttempt = time.Time{}
	return st
}

// Stable reports whether a running replica has run long enough to count as
// stable, so a supervisor can clear its consecutive restarts.
func (b Backoff) Stable(st RestartState, now time.Time) bool {
	return !st.LastStart.IsZero() && now.Sub(st.LastStart) >= b.ResetAfter
}

// Waiting describes an exited replica waiting to be restarted: backoff, or
// crashloop when it restarts too often, with the time of its next attempt.
func (b Backoff) Waiting(st RestartState) (RunState, time.Time) {
	if b.CrashloopAfter > 0 && st.Restarts >= b.CrashloopAfter {
		return StateCrashloop, st.NextAttempt
	}
	return StateBackoff, st.NextAttempt
}
