package debounce

import (
	"testing"
	"time"
)

// A burst of back-to-back events fires once, after the burst.
func TestBurstFiresOnce(t *testing.T) {
	d := New(100*time.Millisecond, 10*time.Second)
	defer d.Stop()
	for range 100 {
		d.Event()
	}
	select {
	case <-d.C():
		d.Fired()
	case <-time.After(5 * time.Second):
		t.Fatal("no fire after a burst")
	}
	select {
	case <-d.C():
		t.Fatal("a second fire for one burst")
	case <-time.After(300 * time.Millisecond):
	}
}

// Events that never pause still fire (bounded by MaxDelay), before the
// writes stop: continuous writes are applied, not postponed forever.
func TestContinuousEventsFireByMaxDelay(t *testing.T) {
	d := New(200*time.Millisecond, 100*time.Millisecond)
	defer d.Stop()
	stop := time.Now().Add(2 * time.Second)
	fires := 0
	tick := time.NewTicker(10 * time.Millisecond) // well under Quiet
	defer tick.Stop()
	d.Event()
	for time.Now().Before(stop) {
		select {
		case <-d.C():
			d.Fired()
			fires++
		case <-tick.C:
			d.Event()
		}
	}
	if fires == 0 {
		t.Fatal("continuous events never fired: MaxDelay not applied")
	}
}

// Zero options take the defaults.
func TestDefaults(t *testing.T) {
	d := New(0, 0)
	if d.quiet != DefaultQuiet || d.maxDelay != DefaultMaxDelay {
		t.Fatalf("defaults: %v %v", d.quiet, d.maxDelay)
	}
}
