// Package debounce turns bursts of file events into one notification: it
// fires once no event arrived for Quiet, or at the latest MaxDelay after
// the first event of the burst (continuous writes still get applied). The
// project file watcher and the daemon's tree watcher share it.
package debounce

import "time"

// Defaults for a zero Quiet or MaxDelay.
const (
	DefaultQuiet    = 300 * time.Millisecond
	DefaultMaxDelay = 2 * time.Second
)

// Debouncer is driven from its owner's select loop: Event for every
// relevant event, receive from C, then Fired. Not safe for concurrent use.
type Debouncer struct {
	quiet, maxDelay time.Duration
	timer           *time.Timer
	first           time.Time // first event of the current burst; zero = idle
}

// New returns an idle debouncer; quiet or maxDelay <= 0 take the defaults.
func New(quiet, maxDelay time.Duration) *Debouncer {
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	if maxDelay <= 0 {
		maxDelay = DefaultMaxDelay
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Debouncer{quiet: quiet, maxDelay: maxDelay, timer: t}
}

// Event notes a relevant event now and re-arms the timer: Quiet from now,
// but never past MaxDelay after the burst's first event.
func (d *Debouncer) Event() {
	now := time.Now()
	if d.first.IsZero() {
		d.first = now
	}
	d.timer.Reset(max(min(d.quiet, d.first.Add(d.maxDelay).Sub(now)), 0))
}

// C fires when a burst is over.
func (d *Debouncer) C() <-chan time.Time { return d.timer.C }

// Fired ends the burst; call it after receiving from C.
func (d *Debouncer) Fired() { d.first = time.Time{} }

// Stop stops the timer.
func (d *Debouncer) Stop() { d.timer.Stop() }
