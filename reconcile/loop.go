package reconcile

import (
	"context"
	"sync"
	"time"
)

// Loop runs reconcile passes one at a time. Events only mark the project
// dirty (Mark never blocks and never runs a pass itself); a pass re-reads
// everything, so any number of marks during a pass cause exactly one more.
type Loop struct {
	pass func(context.Context)
	kick chan struct{} // capacity 1: the dirty flag

	mu       sync.Mutex
	started  uint64
	finished uint64
	done     chan struct{} // closed and replaced after every pass
}

// NewLoop returns a loop that runs pass whenever it is dirty.
func NewLoop(pass func(context.Context)) *Loop {
	return &Loop{pass: pass, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// Mark flags the project dirty.
func (l *Loop) Mark() {
	select {
	case l.kick <- struct{}{}:
	default: // already dirty: one pending pass covers this event too
	}
}

// MarkOn marks the loop whenever events delivers and, when every > 0,
// every interval (a rescan), from a goroutine that ends with ctx.
func (l *Loop) MarkOn(ctx context.Context, events <-chan struct{}, every time.Duration) {
	go func() {
		var tick <-chan time.Time
		if every > 0 {
			t := time.NewTicker(every)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-events:
				l.Mark()
			case <-tick:
				l.Mark()
			}
		}
	}()
}

// Run executes passes until ctx ends. Call it once.
func (l *Loop) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		}
		l.mu.Lock()
		l.started++
		l.mu.Unlock()
		l.pass(ctx)
		l.mu.Lock()
		l.finished++
		close(l.done)
		l.done = make(chan struct{})
		l.mu.Unlock()
	}
}

// MarkAndWait marks the project dirty and waits until a pass that started
// after the call has finished (a CLI request waiting for its effect).
func (l *Loop) MarkAndWait(ctx context.Context) error {
	l.mu.Lock()
	target := l.started + 1
	l.mu.Unlock()
	l.Mark()
	for {
		l.mu.Lock()
		if l.finished >= target {
			l.mu.Unlock()
			return nil
		}
		done := l.done
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
		}
	}
}

// Passes reports how many passes have finished.
func (l *Loop) Passes() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.finished
}
