package reconcile

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

func startLoop(t *testing.T, pass func(context.Context)) *Loop {
	l := NewLoop(pass)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { l.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	return l
}

func TestLoopEventsDuringPassCauseExactlyOneMore(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var passes atomic.Int32
	l := startLoop(t, func(context.Context) {
		passes.Add(1)
		entered <- struct{}{}
		<-release
	})
	l.Mark()
	<-entered // first pass is running
	for range 100 {
		l.Mark()
	}
	release <- struct{}{}
	<-entered // the one extra pass
	release <- struct{}{}
	testutil.WaitFor(t, "second pass to finish", 5*time.Second, func() bool { return l.Passes() == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := passes.Load(); n != 2 {
		t.Fatalf("%d passes, want exactly 2 (one, plus one for the marks during it)", n)
	}
}

func TestLoopIdleMarksCoalesce(t *testing.T) {
	var passes atomic.Int32
	gate := make(chan struct{})
	l := NewLoop(func(context.Context) { passes.Add(1) })
	for range 50 {
		l.Mark() // before Run: all coalesce into one pending pass
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { l.Run(ctx); close(gate) }()
	testutil.WaitFor(t, "a pass", 5*time.Second, func() bool { return l.Passes() == 1 })
	time.Sleep(50 * time.Millisecond)
	if n := passes.Load(); n != 1 {
		t.Fatalf("%d passes for marks made while idle, want 1", n)
	}
	cancel()
	<-gate
}

func TestLoopNeverConcurrent(t *testing.T) {
	var running, maxRunning atomic.Int32
	l := startLoop(t, func(context.Context) {
		n := running.Add(1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(200 * time.Microsecond)
		running.Add(-1)
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				l.Mark()
			}
		}()
	}
	wg.Wait()
	if err := l.MarkAndWait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("up to %d passes ran at once, want 1", m)
	}
}

func TestLoopMarkAndWaitSeesItsPass(t *testing.T) {
	var seen atomic.Int64 // value of `state` read by the last pass
	var state atomic.Int64
	l := startLoop(t, func(context.Context) {
		seen.Store(state.Load())
		time.Sleep(5 * time.Millisecond)
	})
	for i := int64(1); i <= 20; i++ {
		state.Store(i)
		if err := l.MarkAndWait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := seen.Load(); got != i {
			t.Fatalf("MarkAndWait returned after a pass that saw state %d, want %d", got, i)
		}
	}
}

func TestLoopMarkAndWaitHonoursContext(t *testing.T) {
	l := NewLoop(func(context.Context) {}) // never run
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.MarkAndWait(ctx); err == nil {
		t.Fatal("MarkAndWait without a running loop must end with the context")
	}
}

// MarkOn runs a pass for each event and each tick, and stops marking when
// its context ends.
func TestLoopMarkOn(t *testing.T) {
	l := startLoop(t, func(context.Context) {})
	events := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	l.MarkOn(ctx, events, 0)
	events <- struct{}{}
	testutil.WaitFor(t, "a pass after an event", 5*time.Second, func() bool { return l.Passes() == 1 })
	cancel()
	time.Sleep(20 * time.Millisecond) // the goroutine sees ctx end
	select {
	case events <- struct{}{}:
		t.Error("MarkOn still takes events after its context ended")
	case <-time.After(50 * time.Millisecond):
	}

	tctx, tcancel := context.WithCancel(context.Background())
	defer tcancel()
	l.MarkOn(tctx, nil, 10*time.Millisecond)
	testutil.WaitFor(t, "passes on the ticks", 5*time.Second, func() bool { return l.Passes() >= 4 })
	tcancel()
	time.Sleep(30 * time.Millisecond)
	n := l.Passes()
	time.Sleep(100 * time.Millisecond)
	if l.Passes() > n+1 {
		t.Errorf("%d passes after the context ended, want at most one pending", l.Passes()-n)
	}
}
