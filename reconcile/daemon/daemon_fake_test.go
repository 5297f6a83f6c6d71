package daemon_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile/api"
	"nucleus/reconcile/daemon"
)

// The daemon's decisions (which projects to bring up, keep, reload or
// bring down) over reconciletest's fakes: no root, no kernel objects. The
// same behaviour is tested on the host's runtime and networks in
// daemon_e2e_test.go and client_e2e_test.go.

// onlyOnce fails unless each sandbox ID was created exactly once: nothing
// was restarted.
func (e *env) onlyOnce(ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		if n := e.world.Count("create " + id); n != 1 {
			e.t.Errorf("%s created %d times, want once: %v", id, n, e.world.Events())
		}
	}
}

// stopped fails unless each sandbox ID was stopped.
func (e *env) stopped(ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		if e.world.Index("stop "+id) < 0 {
			e.t.Errorf("%s was not stopped: %v", id, e.world.Events())
		}
	}
}

func TestFakeDaemonBringsProjectsUpAndDown(t *testing.T) {
	e := newFakeEnv(t)
	e.write("a", projectYAML("da", "one", "web", "worker"))
	e.start()
	e.waitRunning("da", 2)

	e.write("team/b", projectYAML("db", "one", "api"))
	e.waitRunning("db", 1)

	// A second directory claiming db's name: reported, db keeps running.
	e.write("dup", projectYAML("db", "two", "api"))
	e.waitStalled("db", "DuplicateName")
	if err := os.RemoveAll(filepath.Join(e.tree, "dup")); err != nil {
		t.Fatal(err)
	}
	e.waitReady("db")

	// A removed directory is brought down completely.
	if err := os.RemoveAll(filepath.Join(e.tree, "a")); err != nil {
		t.Fatal(err)
	}
	e.waitGone("da", nil)
	e.stopped("da.web.1", "da.worker.1")
	if e.world.Index("remove-project da") < 0 {
		t.Errorf("the networks of da were not removed: %v", e.world.Events())
	}
	e.waitFor("da no longer managed", func() bool { return !e.status("da").Managed })

	// A directory moved in by rename is brought up.
	stage := filepath.Join(t.TempDir(), "c")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(stage, "nucleus.yaml"), projectYAML("dc", "one", "x"))
	if err := os.Rename(stage, filepath.Join(e.tree, "team", "c")); err != nil {
		t.Fatal(err)
	}
	e.waitRunning("dc", 1)
	if st := e.status("dc"); !st.Managed || st.Dir != filepath.Join(e.tree, "team", "c") {
		t.Errorf("status of dc: %+v", st)
	}
	// New projects, a duplicate name and a removal disturbed no other.
	e.onlyOnce("da.web.1", "da.worker.1", "db.api.1", "dc.x.1")
	if e.world.Index("stop db.") >= 0 {
		t.Errorf("db was stopped: %v", e.world.Events())
	}
}

func TestFakeDaemonRefusesToPruneEmptyTree(t *testing.T) {
	e := newFakeEnv(t)
	e.write("a", projectYAML("ga", "one", "web"))
	e.write("b", projectYAML("gb", "one", "web"))
	e.start()
	e.waitRunning("ga", 1)
	e.waitRunning("gb", 1)

	restore := e.emptyTree("a", "b")
	time.Sleep(500 * time.Millisecond) // more passes would have pruned by now
	if e.world.Count("stop ") != 0 {
		t.Errorf("sandboxes stopped under the guard: %v", e.world.Events())
	}

	restore()
	e.waitReady("ga")
	e.waitReady("gb")
	e.onlyOnce("ga.web.1", "gb.web.1")

	// One of two removed: that is a real removal.
	if err := os.RemoveAll(filepath.Join(e.tree, "a")); err != nil {
		t.Fatal(err)
	}
	e.waitGone("ga", nil)
	e.stopped("ga.web.1")
	if e.world.Index("stop gb.") >= 0 {
		t.Errorf("gb was stopped: %v", e.world.Events())
	}
}

func TestFakeDaemonAdoptsAfterRestart(t *testing.T) {
	e := newFakeEnv(t)
	e.write("a", projectYAML("ra", "one", "web", "db"))
	e.write("b", projectYAML("rb", "one", "web"))
	e.start()
	e.waitRunning("ra", 2)
	e.waitRunning("rb", 1)
	e.stop()
	if e.world.Count("stop ") != 0 {
		t.Fatalf("stopping the daemon stopped sandboxes: %v", e.world.Events())
	}
	if rep := e.report(); rep.Daemon == nil || rep.Daemon.Running {
		t.Errorf("status after stop: daemon %+v, want not running", rep.Daemon)
	}

	// While it is away: b is removed.
	if err := os.RemoveAll(filepath.Join(e.tree, "b")); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitGone("rb", nil)
	e.stopped("rb.web.1")
	e.waitReady("ra")
	e.waitFor("the restarted daemon to adopt ra's replicas", func() bool {
		return e.world.Index("adopt ra.web.1") >= 0 && e.world.Index("adopt ra.db.1") >= 0
	})
	if err := e.d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.onlyOnce("ra.web.1", "ra.db.1")
	if rep := e.report(); !rep.Daemon.Running {
		t.Errorf("status: daemon %+v, want running", rep.Daemon)
	}
}

func TestFakeDaemonInvalidFileKeepsServices(t *testing.T) {
	e := newFakeEnv(t)
	e.write("a", projectYAML("ia", "one", "web", "db"))
	e.start()
	e.waitRunning("ia", 2)

	e.write("a", "name: ia\nservices:\n  web:\n    comand: [x]\n")
	e.waitFor("Stalled with the error position", func() bool {
		st := e.status("ia")
		return st.Condition == daemon.Stalled && strings.Contains(st.Message, "nucleus.yaml:4:5")
	})
	if e.world.Count("stop ") != 0 {
		t.Errorf("an invalid file changed what runs: %v", e.world.Events())
	}
	st := e.status("ia")
	if st.Applied.Digest == "" || st.Attempted.Digest == st.Applied.Digest || len(st.History) == 0 || st.History[0].Outcome != "failed" {
		t.Errorf("status after the invalid save: %+v", st)
	}

	// The fix restarts only the edited service.
	e.write("a", projectYAML("ia", "two", "web", "db"))
	e.waitFor("web created again", func() bool { return e.world.Count("create ia.web.1") == 2 })
	e.waitReady("ia")
	e.onlyOnce("ia.db.1")
}

func TestFakeDaemonProjectTakenDownStaysDown(t *testing.T) {
	e := newFakeEnv(t)
	e.write("a", projectYAML("sa", "one", "web"))
	e.start()
	e.waitRunning("sa", 1)
	ctx := context.Background()
	if err := api.Down(ctx, e.root, "sa", api.DownOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("TakenDown", func() bool { return e.status("sa").Reason == "TakenDown" })
	e.stopped("sa.web.1")
	if err := e.d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.world.Count("create sa.web.1"); n != 1 {
		t.Fatalf("a project taken down was started again by a scan: %v", e.world.Events())
	}
	e.d.Reload()
	e.waitFor("sa started again on reload", func() bool { return e.world.Count("create sa.web.1") == 2 })
	e.waitReady("sa")
}

func TestFakeDaemonPolicyRefusesPrivilegedProject(t *testing.T) {
	e := newFakeEnv(t)
	privileged := projectYAML("pol", "one", "web") + "    cap_add: [SYS_ADMIN]\n"
	e.write("p", privileged)
	e.start()
	e.waitStalled("pol", "PolicyDenied")
	if st := e.status("pol"); !strings.Contains(st.Message, "nucleus.yaml:8:15:") || !strings.Contains(st.Message, "services.web.cap_add: CAP_SYS_ADMIN") {
		t.Errorf("refusal does not name the place and field: %q", st.Message)
	}
	if e.world.Count("create ") != 0 {
		t.Fatalf("a refused project was started: %v", e.world.Events())
	}
	e.write("p", projectYAML("pol", "one", "web"))
	e.waitRunning("pol", 1)
	e.waitReady("pol")

	// A refused edit keeps the allowed configuration running.
	e.write("p", privileged)
	e.waitFor("the refusal of the edit", func() bool { return e.status("pol").Reason == "PolicyDenied" })
	e.onlyOnce("pol.web.1")
	if e.world.Count("stop ") != 0 {
		t.Errorf("a refused edit stopped the project: %v", e.world.Events())
	}
}

func TestFakeDaemonDirectoryReplaced(t *testing.T) {
	e := newFakeEnv(t)
	e.write("a", projectYAML("xa", "one", "web", "db"))
	e.start()
	e.waitRunning("xa", 2)
	e.replaceDir("a", projectYAML("xa", "two", "web", "db"))
	e.waitFor("web created again with the new directory's configuration", func() bool { return e.world.Count("create xa.web.1") == 2 })
	e.waitReady("xa")
	// The new runner adopted db rather than starting it again.
	if e.world.Index("adopt xa.db.1") < 0 {
		t.Errorf("db was not adopted by the runner of the new directory: %v", e.world.Events())
	}
	e.onlyOnce("xa.db.1")
}

func TestFakeDaemonInvalidFirstLoad(t *testing.T) {
	e := newFakeEnv(t)
	e.write("a", "name: fa\nservices:\n  web:\n    command: [/bin/sleep, 1000]\n    restart: sometimes\n")
	e.start()
	e.waitFor("Stalled with the error position", func() bool {
		st := e.status("fa")
		return st.Condition == daemon.Stalled && strings.Contains(st.Message, "nucleus.yaml:5:") && strings.Contains(st.Message, "nothing runs")
	})
	if e.world.Count("create ") != 0 {
		t.Fatalf("a project whose files never loaded was started: %v", e.world.Events())
	}
	e.write("a", projectYAML("fa", "one", "web"))
	e.waitRunning("fa", 1)
	e.waitReady("fa")
	e.onlyOnce("fa.web.1")
}

func TestFakeDaemonSecondOnSameRootRefused(t *testing.T) {
	e := newFakeEnv(t)
	e.write("a", projectYAML("ra", "one", "web"))
	e.start()
	e.waitReady("ra")
	second, err := daemon.New(daemon.Options{Dir: e.tree, Root: e.root, Parts: e.parts})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- second.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "another nucleus daemon runs on state root "+e.root.Run) {
			t.Fatalf("second daemon on the root: want \"another nucleus daemon runs on state root %s\", got %v", e.root.Run, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second daemon on the same root still runs after 10s, want it refused at once")
	}
	// Once the first has stopped, the lock is free for the next daemon.
	e.stop()
	e.start()
	e.waitReady("ra")
}
