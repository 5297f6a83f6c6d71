package daemon_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"nucleus/reconcile/api"
)

// TestDaemonProjectsAreSupervised: a daemon-managed project holds its
// supervisor lock (a second supervisor is refused) and answers ps over its
// socket; `nucleus down` takes it down for good (Stalled TakenDown, not
// restarted by the next scan) until a reload (SIGHUP) brings it back.
func TestDaemonProjectsAreSupervised(t *testing.T) {
	e := newEnv(t)
	a := "sa" + e.tag
	e.write("a", projectYAML(a, "one", "web"))
	e.start()
	p1 := e.waitRunning(a, 1)
	ctx := context.Background()

	var running *api.ErrRunning
	if l, err := api.TryLock(e.root, a); !errors.As(err, &running) {
		l.Release(false)
		t.Fatalf("TryLock on a daemon-managed project: %v, want ErrRunning", err)
	}
	st, err := api.Status(ctx, e.root, a, nil)
	if err != nil || len(st.Replicas) != 1 || st.Replicas[0].PID != p1["web-1"] {
		t.Fatalf("ps over the socket: %+v, %v", st, err)
	}

	if err := api.Down(ctx, e.root, a, api.DownOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("TakenDown", func() bool { return e.status(a).Reason == "TakenDown" })
	if err := e.d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if now := e.pids(a); len(now) != 0 {
		t.Fatalf("a project taken down was restarted by a scan: %v", now)
	}

	e.d.Reload()
	p2 := e.waitRunning(a, 1)
	e.waitReady(a)
	if p2["web-1"] == p1["web-1"] {
		t.Errorf("same PID %d after down and reload", p2["web-1"])
	}
}
