package reconcile

import (
	"testing"
	"time"

	"nucleus/spec"
)

func fixedRand(v float64) func() float64 { return func() float64 { return v } }

func TestBackoffDelay(t *testing.T) {
	b := DefaultBackoff()
	b.Rand = fixedRand(0.5) // no jitter
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, time.Second}, {1, 2 * time.Second}, {2, 4 * time.Second}, {5, 32 * time.Second},
		{8, 256 * time.Second}, {9, 5 * time.Minute}, {50, 5 * time.Minute}, {10000, 5 * time.Minute},
	} {
		if got := b.Delay(tc.n); got != tc.want {
			t.Errorf("Delay(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

func TestBackoffJitter(t *testing.T) {
	b := DefaultBackoff()
	for _, tc := range []struct {
		r    float64
		n    int
		want time.Duration
	}{
		{0, 0, 900 * time.Millisecond},            // -10%
		{0.999999999, 0, 1100 * time.Millisecond}, // +10% (rounded)
		{0, 3, 7200 * time.Millisecond},
		{0, 20, 270 * time.Second},         // jitter below the cap
		{0.999999999, 20, 5 * time.Minute}, // never above the cap
	} {
		b.Rand = fixedRand(tc.r)
		got := b.Delay(tc.n)
		if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("Delay(%d) with rand %v = %v, want %v", tc.n, tc.r, got, tc.want)
		}
	}
	// With the real source every delay stays inside ±10%.
	b = DefaultBackoff()
	for range 1000 {
		if d := b.Delay(2); d < 3600*time.Millisecond || d > 4400*time.Millisecond {
			t.Fatalf("jittered Delay(2) = %v, outside 4s ±10%%", d)
		}
	}
}

func TestBackoffSequenceResetAndCrashloop(t *testing.T) {
	b := DefaultBackoff()
	b.Rand = fixedRand(0.5)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := RestartState{}.Started(t0)
	st.Restarts, st.Total = 0, 0 // first start is not a restart
	now := t0
	var delays []time.Duration
	for i := range 6 {
		now = now.Add(100 * time.Millisecond) // crashes quickly
		st = b.Exited(st, now)
		delays = append(delays, st.NextAttempt.Sub(now))
		state, next := b.Waiting(st)
		wantState := StateBackoff
		if i >= 5 {
			wantState = StateCrashloop
		}
		if state != wantState || !next.Equal(st.NextAttempt) {
			t.Fatalf("after %d restarts: %s next %v, want %s", st.Restarts, state, next, wantState)
		}
		now = st.NextAttempt
		st = st.Started(now)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32}
	for i := range want {
		if delays[i] != want[i]*time.Second {
			t.Fatalf("delays = %v, want 1s 2s 4s ... 32s", delays)
		}
	}
	if st.Total != 6 {
		t.Fatalf("Total = %d, want 6", st.Total)
	}
	// Ten minutes of stable running: the next exit starts over at 1 s.
	if b.Stable(st, now.Add(9*time.Minute)) || !b.Stable(st, now.Add(10*time.Minute)) {
		t.Fatal("Stable must turn true after exactly ResetAfter")
	}
	now = now.Add(10 * time.Minute)
	st = b.Exited(st, now)
	if got := st.NextAttempt.Sub(now); got != time.Second {
		t.Fatalf("delay after a stable run = %v, want 1s", got)
	}
	if s, _ := b.Waiting(st); s != StateBackoff {
		t.Fatalf("after reset the state is %s, want backoff", s)
	}
	// Nine minutes is not stable: back-off keeps growing.
	st = st.Started(now.Add(time.Second))
	st = b.Exited(st, now.Add(9*time.Minute))
	if got := st.NextAttempt.Sub(now.Add(9 * time.Minute)); got != 2*time.Second {
		t.Fatalf("delay after an unstable run = %v, want 2s", got)
	}
}

func TestShouldRestart(t *testing.T) {
	always := spec.RestartPolicy{Policy: spec.RestartAlways}
	unless := spec.RestartPolicy{Policy: spec.RestartUnlessStopped}
	onFail := spec.RestartPolicy{Policy: spec.RestartOnFailure}
	onFail3 := spec.RestartPolicy{Policy: spec.RestartOnFailure, MaxRetries: 3}
	no := spec.RestartPolicy{Policy: spec.RestartNo}
	for _, tc := range []struct {
		name string
		p    spec.RestartPolicy
		e    ExitInfo
		want bool
		why  string
	}{
		{"no failure", no, ExitInfo{Code: 1}, false, "exited with code 1, restart: no"},
		{"zero policy", spec.RestartPolicy{}, ExitInfo{Code: 1}, false, "exited with code 1, restart: no"},
		{"no unhealthy", no, ExitInfo{Unhealthy: true}, false, "unhealthy, restart: no"},
		{"always success", always, ExitInfo{Code: 0}, true, "exited with code 0, restart: always"},
		{"always failure", always, ExitInfo{Code: 137}, true, "exited with code 137, restart: always"},
		{"always manual stop", always, ExitInfo{ManualStop: true}, false, "stopped by the user"},
		{"always manual stop, supervisor start", always, ExitInfo{ManualStop: true, SupervisorStart: true}, true, "exited with code 0, restart: always"},
		{"unless-stopped success", unless, ExitInfo{}, true, "exited with code 0, restart: unless-stopped"},
		{"unless-stopped manual stop", unless, ExitInfo{ManualStop: true, SupervisorStart: true}, false, "stopped by the user"},
		{"on-failure success", onFail, ExitInfo{Code: 0}, false, "exited with code 0, restart: on-failure"},
		{"on-failure failure", onFail, ExitInfo{Code: 2, Restarts: 100}, true, "exited with code 2, restart: on-failure"},
		{"on-failure unhealthy", onFail, ExitInfo{Unhealthy: true}, true, "unhealthy, restart: on-failure"},
		{"on-failure manual stop", onFail, ExitInfo{Code: 143, ManualStop: true}, false, "stopped by the user"},
		{"on-failure:3 first", onFail3, ExitInfo{Code: 1, Restarts: 0}, true, "exited with code 1, restart: on-failure:3 (restart 1)"},
		{"on-failure:3 third", onFail3, ExitInfo{Code: 1, Restarts: 2}, true, "exited with code 1, restart: on-failure:3 (restart 3)"},
		{"on-failure:3 exhausted", onFail3, ExitInfo{Code: 1, Restarts: 3}, false, "exited with code 1, restart: on-failure:3 exhausted after 3 restarts"},
	} {
		got, why := ShouldRestart(tc.p, tc.e)
		if got != tc.want || why != tc.why {
			t.Errorf("%s: ShouldRestart = %v %q, want %v %q", tc.name, got, why, tc.want, tc.why)
		}
	}
}
