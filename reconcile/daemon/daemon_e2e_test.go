package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile/daemon"
)

// TestDaemonBringsProjectsUpAndDown: a project directory that appears is
// brought up, one that disappears is brought down (processes, records,
// networks), the others keep their PIDs; two directories naming the same
// project are reported, not fatal.
func TestDaemonBringsProjectsUpAndDown(t *testing.T) {
	e := newEnv(t)
	a, b, c := "da"+e.tag, "db"+e.tag, "dc"+e.tag
	e.write("a", projectYAML(a, "one", "web", "worker"))
	e.start()
	pa := e.waitRunning(a, 2)

	// A new directory (created, then its file written) is brought up.
	e.write("team/b", projectYAML(b, "one", "api"))
	pb := e.waitRunning(b, 1)
	if now := e.pids(a); !samePIDs(now, pa) {
		t.Errorf("a new project disturbed %s: %v -> %v", a, pa, now)
	}

	// A second directory claiming b's name: reported, b keeps running.
	e.write("dup", projectYAML(b, "two", "api"))
	e.waitStalled(b, "DuplicateName")
	if now := e.pids(b); !samePIDs(now, pb) {
		t.Errorf("a duplicate directory disturbed %s: %v -> %v", b, pb, now)
	}
	if err := os.RemoveAll(filepath.Join(e.tree, "dup")); err != nil {
		t.Fatal(err)
	}
	e.waitReady(b)

	// A removed directory is brought down completely.
	if err := os.RemoveAll(filepath.Join(e.tree, "a")); err != nil {
		t.Fatal(err)
	}
	e.waitGone(a, pa)
	if now := e.pids(b); !samePIDs(now, pb) {
		t.Errorf("removing %s disturbed %s: %v -> %v", a, b, pb, now)
	}

	// A directory moved in by rename (as a checkout may) is brought up.
	stage := filepath.Join(t.TempDir(), "c")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(stage, "nucleus.yaml"), projectYAML(c, "one", "x"))
	if err := os.Rename(stage, filepath.Join(e.tree, "team", "c")); err != nil {
		t.Fatal(err)
	}
	e.waitRunning(c, 1)
	st := e.status(c)
	if !st.Managed || st.Dir != filepath.Join(e.tree, "team", "c") {
		t.Errorf("status of %s: %+v", c, st)
	}
}

// TestDaemonRefusesToPruneEmptyTree: when every project directory vanishes
// at once (an empty or failed checkout) nothing is brought down and the
// guard shows in the status; when the projects come back they are the same
// sandboxes (same PIDs), and removing one of them prunes it again.
func TestDaemonRefusesToPruneEmptyTree(t *testing.T) {
	e := newEnv(t)
	a, b := "ga"+e.tag, "gb"+e.tag
	e.write("a", projectYAML(a, "one", "web"))
	e.write("b", projectYAML(b, "one", "web"))
	e.start()
	pa, pb := e.waitRunning(a, 1), e.waitRunning(b, 1)

	// Empty the tree (what a failed `git clone` into a fresh dir looks like).
	restore := e.emptyTree("a", "b")
	time.Sleep(1500 * time.Millisecond) // more passes would have pruned by now
	if now := e.pids(a); !samePIDs(now, pa) {
		t.Errorf("%s changed under the guard: %v -> %v", a, pa, now)
	}
	if now := e.pids(b); !samePIDs(now, pb) {
		t.Errorf("%s changed under the guard: %v -> %v", b, pb, now)
	}

	// Back: guard cleared, nothing restarted.
	restore()
	e.waitFor("both Ready", func() bool {
		return e.status(a).Condition == daemon.Ready && e.status(b).Condition == daemon.Ready
	})
	if now := e.pids(a); !samePIDs(now, pa) {
		t.Errorf("%s restarted after the tree came back: %v -> %v", a, pa, now)
	}

	// One of two removed: that is a real removal.
	if err := os.RemoveAll(filepath.Join(e.tree, "a")); err != nil {
		t.Fatal(err)
	}
	e.waitGone(a, pa)
	if now := e.pids(b); !samePIDs(now, pb) {
		t.Errorf("%s disturbed: %v -> %v", b, pb, now)
	}
}

// TestDaemonAdoptsAfterRestart: a stopped daemon leaves the services
// running; the next one adopts them (same PIDs), applies what changed
// meanwhile, and brings down a project removed while it was away.
func TestDaemonAdoptsAfterRestart(t *testing.T) {
	e := newEnv(t)
	a, b := "ra"+e.tag, "rb"+e.tag
	e.write("a", projectYAML(a, "one", "web", "db"))
	e.write("b", projectYAML(b, "one", "web"))
	e.start()
	pa, pb := e.waitRunning(a, 2), e.waitRunning(b, 1)
	e.stop()
	time.Sleep(200 * time.Millisecond)
	if now := e.pids(a); !samePIDs(now, pa) {
		t.Fatalf("stopping the daemon changed %s: %v -> %v", a, pa, now)
	}
	if rep := e.report(); rep.Daemon == nil || rep.Daemon.Running {
		t.Errorf("status after stop: daemon %+v, want not running", rep.Daemon)
	}

	// While it is away: b is removed.
	if err := os.RemoveAll(filepath.Join(e.tree, "b")); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitGone(b, pb)
	e.waitReady(a)
	if now := e.pids(a); !samePIDs(now, pa) {
		t.Errorf("the restarted daemon did not adopt %s: %v -> %v", a, pa, now)
	}
	if rep := e.report(); !rep.Daemon.Running {
		t.Errorf("status: daemon %+v, want running", rep.Daemon)
	}
}

// TestDaemonInvalidFileKeepsServices: an invalid save shows as Stalled
// with file:line:col and changes nothing; the fix is applied (only the
// edited service restarts) and the status is Ready again.
func TestDaemonInvalidFileKeepsServices(t *testing.T) {
	e := newEnv(t)
	a := "ia" + e.tag
	e.write("a", projectYAML(a, "one", "web", "db"))
	e.start()
	p1 := e.waitRunning(a, 2)

	e.write("a", "name: "+a+"\nservices:\n  web:\n    comand: [x]\n")
	e.waitFor("Stalled with the error position", func() bool {
		st := e.status(a)
		return st.Condition == daemon.Stalled && strings.Contains(st.Message, "nucleus.yaml:4:5")
	})
	time.Sleep(1 * time.Second)
	if now := e.pids(a); !samePIDs(now, p1) {
		t.Errorf("an invalid file changed what runs: %v -> %v", p1, now)
	}
	st := e.status(a)
	if st.Applied.Digest == "" || st.Attempted.Digest == st.Applied.Digest || len(st.History) == 0 || st.History[0].Outcome != "failed" {
		t.Errorf("status after the invalid save: %+v", st)
	}

	e.write("a", projectYAML(a, "two", "web", "db"))
	e.waitReady(a)
	p2 := e.waitRunning(a, 2)
	if p2["web-1"] == p1["web-1"] || p2["db-1"] != p1["db-1"] {
		t.Errorf("after the fix PIDs %v -> %v: want web restarted, db untouched", p1, p2)
	}
}

// TestDaemonInvalidFirstLoad: a project whose files never loaded shows as
// Stalled with the position, and comes up once fixed.
func TestDaemonInvalidFirstLoad(t *testing.T) {
	e := newEnv(t)
	a := "fa" + e.tag
	e.write("a", "name: "+a+"\nservices:\n  web:\n    command: [/bin/sleep, 1000]\n    restart: sometimes\n")
	e.start()
	e.waitFor("Stalled", func() bool {
		st := e.status(a)
		return st.Condition == daemon.Stalled && strings.Contains(st.Message, "nucleus.yaml:5:")
	})
	e.write("a", projectYAML(a, "one", "web"))
	e.waitRunning(a, 1)
	e.waitReady(a)
}

// TestDaemonDirectoryReplaced: a project directory swapped for a new one
// (an atomic deploy: new directory renamed into place) is applied: the
// runner, whose watches followed the old directory, restarts, adopts what
// runs and restarts only the changed service.
func TestDaemonDirectoryReplaced(t *testing.T) {
	e := newEnv(t)
	a := "xa" + e.tag
	e.write("a", projectYAML(a, "one", "web", "db"))
	e.start()
	p1 := e.waitRunning(a, 2)

	e.replaceDir("a", projectYAML(a, "two", "web", "db"))
	var p2 map[string]int
	e.waitFor("web restarted with the new directory's configuration", func() bool {
		p2 = e.pids(a)
		return len(p2) == 2 && p2["web-1"] != p1["web-1"]
	})
	if p2["db-1"] != p1["db-1"] {
		t.Errorf("db restarted (pid %d -> %d) though only web changed", p1["db-1"], p2["db-1"])
	}
	e.waitReady(a)
}
