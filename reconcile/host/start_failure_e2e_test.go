package host

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/reconcile"
	"nucleus/runtime"
	"nucleus/spec"
)

// runProject runs a Runner over yaml, with tune applied to its
// supervisor, until stop is called or the test ends: stop takes everything
// down (once) and the test's end checks that nothing is left.
func (e *e2e) runProject(yaml string, tune func(*reconcile.Supervisor)) (stop func()) {
	t := e.t
	file := filepath.Join(e.dir, "nucleus.yaml")
	testutil.WriteFile(t, file, yaml)
	sv := e.supervisor()
	tune(sv)
	r := &reconcile.Runner{
		Load: func() (*spec.Project, error) {
			return spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: e.project})
		},
		Supervisor: sv,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if err := e.supervisor().Down(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if leaks, _ := runtime.LeakCheck(e.root); len(leaks) != 0 {
			t.Errorf("runtime leaks: %v", leaks)
		}
		if leaks, _ := network.LeakCheck(e.root); len(leaks) != 0 {
			t.Errorf("network leaks: %v", leaks)
		}
	})
	return stop
}

// runFailing runs yaml (see runProject) with a quick back-off and returns
// the store.
func (e *e2e) runFailing(yaml string) *reconcile.Store {
	e.runProject(yaml, func(sv *reconcile.Supervisor) {
		sv.Backoff.Initial, sv.Backoff.Max, sv.Backoff.Rand = 100*time.Millisecond, 5*time.Second, nil
	})
	return reconcile.NewStore(e.root)
}

// backoffDecisions reads service's replica record until it has seen n
// back-off decisions (a record that is not running with a new next attempt
// time) and returns them in order; what names them when too few come within
// 20s. A start before the last decision allowed fails the test.
func (e *e2e) backoffDecisions(store *reconcile.Store, service string, n int, what string) []reconcile.SandboxRecord {
	t := e.t
	t.Helper()
	var seen []reconcile.SandboxRecord
	var lastNext time.Time
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d %s seen: %+v", len(seen), what, seen)
		}
		time.Sleep(2 * time.Millisecond)
		rec, _ := store.LoadSandbox(e.project, service, 1)
		switch {
		case rec == nil:
		case rec.State == reconcile.StateRunning:
			if !lastNext.IsZero() && rec.Restart.LastStart.Before(lastNext) {
				t.Fatalf("restarted at %v, before its back-off allowed (%v)", rec.Restart.LastStart, lastNext)
			}
		case !rec.Restart.NextAttempt.IsZero() && !rec.Restart.NextAttempt.Equal(lastNext):
			lastNext = rec.Restart.NextAttempt
			seen = append(seen, *rec)
		}
	}
	return seen
}

// TestFailedStartFollowsRestartPolicy: a real sandbox whose command does
// not exist never runs; with restart: always it is tried again with growing
// delays, without any change to the files, and shows the error.
func TestFailedStartFollowsRestartPolicy(t *testing.T) {
	e := newE2E(t)
	store := e.runFailing(`services:
  ghost:
    command: ["/no/such/command"]
    restart: always
`)
	var waits []time.Duration
	for _, rec := range e.backoffDecisions(store, "ghost", 3, "failed starts without a file change") {
		if rec.Error == "" || rec.ExitCode == 0 {
			t.Fatalf("failed start recorded without error or exit code: %+v", rec)
		}
		if rec.State != reconcile.StateBackoff && rec.State != reconcile.StateCrashloop {
			t.Fatalf("state %s after a failed start with restart: always, want backoff", rec.State)
		}
		waits = append(waits, rec.Restart.NextAttempt.Sub(rec.ExitedAt))
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] <= waits[i-1] {
			t.Fatalf("back-off does not grow: %v", waits)
		}
	}
}

// TestFailedStartRestartNo: with restart: no a failed start stays exited,
// with its error and exit code for ps, and is not tried again.
func TestFailedStartRestartNo(t *testing.T) {
	e := newE2E(t)
	store := e.runFailing(`services:
  ghost:
    command: ["/no/such/command"]
    restart: "no"
`)
	deadline := time.Now().Add(20 * time.Second)
	var rec *reconcile.SandboxRecord
	for rec == nil || rec.State != reconcile.StateExited {
		if time.Now().After(deadline) {
			t.Fatalf("no exited record for the failed start: %+v", rec)
		}
		time.Sleep(5 * time.Millisecond)
		rec, _ = store.LoadSandbox(e.project, "ghost", 1)
	}
	if !strings.Contains(rec.Error, "no/such/command") || rec.ExitCode == 0 {
		t.Fatalf("error %q exit %d: want the command named and a non-zero code", rec.Error, rec.ExitCode)
	}
	st, err := store.Status(e.project, nil, nil, time.Now())
	if err != nil || len(st) != 1 || st[0].Error == "" || st[0].ExitCode == nil {
		t.Fatalf("ps does not show the failed start: %+v %v", st, err)
	}
	first := rec.ExitedAt
	time.Sleep(1500 * time.Millisecond)
	rec, _ = store.LoadSandbox(e.project, "ghost", 1)
	if rec == nil || !rec.ExitedAt.Equal(first) || rec.Restart.Total != 0 {
		t.Fatalf("restart: no was started again: %+v", rec)
	}
}

// TestFailedStartHeldPortRecovers: a published host port held by another
// listener fails the start; once the listener is gone the service comes
// up by itself (back-off retries), without any edit of the files.
func TestFailedStartHeldPortRecovers(t *testing.T) {
	e := newE2E(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	store := e.runFailing(fmt.Sprintf(`services:
  web:
    command: ["/bin/sleep", "1000"]
    ports: ["127.0.0.1:%d:8080"]
    restart: always
    stop_signal: SIGKILL
`, port))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if time.Now().After(deadline) {
			ln.Close()
			t.Fatal("no failed start recorded while the port was held")
		}
		time.Sleep(5 * time.Millisecond)
		rec, _ := store.LoadSandbox(e.project, "web", 1)
		if rec != nil && rec.Error != "" {
			break
		}
	}
	ln.Close()
	for {
		if time.Now().After(deadline) {
			rec, _ := store.LoadSandbox(e.project, "web", 1)
			t.Fatalf("web did not come up after the port was released: %+v", rec)
		}
		time.Sleep(10 * time.Millisecond)
		rec, _ := store.LoadSandbox(e.project, "web", 1)
		if rec != nil && rec.State.Alive() && rec.Alive() {
			if rec.Error != "" {
				t.Errorf("running replica still shows the old start error %q", rec.Error)
			}
			return
		}
	}
}
