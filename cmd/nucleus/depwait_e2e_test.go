package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// appNeedsDB is a service that needs db healthy.
const appNeedsDB = `  app:
    command: ["/bin/busybox", "sleep", "1000"]
    depends_on: {db: {condition: service_healthy}}
    stop_grace_period: 0s
`

// depwaitYAML: db fails its first three starts (a count kept in ./state),
// so restart: on-failure backs it off 1 s, 2 s (and 4 s) before it serves
// (the pass serving up -d may start it once more at once: up starts what
// does not run); app needs it healthy; other is unrelated.
const depwaitYAML = `
services:
  db:
    command: ["/bin/busybox", "sh", "-c", "n=$$(cat /state/count 2>/dev/null || echo 0); n=$$((n+1)); echo $$n > /state/count; if [ $$n -le 3 ]; then echo db-attempt-$$n-fails; exit 1; fi; exec /bin/busybox httpd -f -p 5432 -h /state"]
    volumes: ["./state:/state:U"]
    restart: on-failure
    healthcheck: {tcp: 5432, interval: 100ms}
    stop_grace_period: 0s
` + appNeedsDB + `  other:
    command: ["/bin/busybox", "sleep", "1000"]
    environment: {MODE: MODE_VALUE}
    stop_grace_period: 0s
`

// TestCLIDependencyInBackoffDoesNotStall (issue 11, examples/db): while a
// service_healthy dependency crashes and waits out its back-off, up -d
// returns at once, ps says what the dependent waits for, the dependency's
// restarts happen, an unrelated edit is applied, and the dependent starts
// within seconds of the dependency turning healthy. Before: the pass
// waited up to 5 minutes for the dependency inside the pass, so no
// restart of db happened, up -d hung, and the edit was not applied.
func TestCLIDependencyInBackoffDoesNotStall(t *testing.T) {
	c := newCLI(t)
	if err := os.Mkdir(filepath.Join(c.dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "name: " + c.project + depwaitYAML
	c.writeYAML(strings.Replace(yaml, "MODE_VALUE", "one", 1))

	start := time.Now()
	if out, errOut, code := c.runWithin(20*time.Second, "up", "-d"); code != 0 {
		t.Fatalf("up -d: exit code %d after %s\nstdout:\n%s\nstderr:\n%s", code, time.Since(start), out, errOut)
	}
	t.Logf("up -d returned after %s", time.Since(start).Round(time.Millisecond))

	rows := c.ps("-a")
	if rows["app"].State != "waiting" || !strings.Contains(rows["app"].WaitingFor, "db-1") ||
		!strings.Contains(rows["app"].WaitingFor, "healthy") {
		t.Fatalf("app right after up -d: %+v, want waiting for db-1 to be healthy", rows["app"])
	}
	if human := c.must("ps"); !strings.Contains(human, "app-1: waiting for db-1 to be healthy") {
		t.Errorf("ps does not say what app waits for:\n%s", human)
	}
	before := rows["other"]

	// An unrelated change is applied while app still waits.
	c.writeYAML(strings.Replace(yaml, "MODE_VALUE", "two", 1))
	var now map[string]psRow
	testutil.WaitFor(t, "other restarted with MODE two", 10*time.Second, func() bool {
		now = c.ps("-a")
		return now["other"].State == "running" && now["other"].PID != before.PID
	})
	if now["app"].State != "waiting" || now["db"].State == "healthy" {
		t.Errorf("other was restarted only after db turned healthy (db %s, app %s): the edit's pass was blocked",
			now["db"].State, now["app"].State)
	}

	// db restarts after its back-off on its own, turns healthy, and app follows.
	testutil.WaitFor(t, "app running", 30*time.Second, func() bool {
		now = c.ps("-a")
		return now["app"].State == "running"
	})
	db, app := now["db"], now["app"]
	if db.State != "healthy" {
		t.Fatalf("app runs but db is %s", db.State)
	}
	gap := app.StartedAt.Sub(db.StartedAt)
	t.Logf("db started %s after up -d; app started %s after db's last start", db.StartedAt.Sub(start).Round(time.Millisecond), gap.Round(time.Millisecond))
	if gap > 3*time.Second {
		t.Errorf("app started %s after db's last start, want within a few seconds of db turning healthy", gap)
	}
	if b, _ := os.ReadFile(filepath.Join(c.dir, "state", "count")); strings.TrimSpace(string(b)) != "4" {
		t.Errorf("db started %q times, want 4 (three failures, then it serves)", b)
	}
	if app.WaitingFor != "" {
		t.Errorf("a running app still says it waits for %q", app.WaitingFor)
	}
	c.must("up", "-d", "--wait", "--wait-timeout", "30s")
}

// TestCLIUpWaitFailsForDependencyThatExitsForGood: a service_healthy
// dependency that exits with restart: "no" never becomes healthy, so the
// dependent never starts and up --wait fails within seconds naming the
// dependency, its exit code and its last log lines. Before: the apply
// request hung on the dependency until --wait-timeout and the wait ended
// in a bare "context deadline exceeded".
func TestCLIUpWaitFailsForDependencyThatExitsForGood(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + `
services:
  db:
    command: ["/bin/busybox", "sh", "-c", "echo db-gives-up; /bin/busybox sleep 0.2; exit 3"]
    restart: "no"
    healthcheck: {tcp: 5432, interval: 100ms}
    stop_grace_period: 0s
` + appNeedsDB)
	start := time.Now()
	_, errOut, code := c.runWithin(60*time.Second, "up", "-d", "--wait", "--wait-timeout", "30s")
	took := time.Since(start)
	t.Logf("up --wait failed after %s:\n%s", took.Round(time.Millisecond), errOut)
	if took > 15*time.Second {
		t.Errorf("up --wait took %s for a dependency that exited for good, want a few seconds", took)
	}
	for _, want := range []string{"db-1", "exit code 3", "db-gives-up"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("up --wait: exit code %d, want 1 and stderr naming %q", code, want)
		}
	}
	if strings.Contains(errOut, "context deadline exceeded") {
		t.Errorf("up --wait ended in a bare deadline")
	}
	if app := c.ps("-a")["app"]; app.PID != 0 || app.State == "running" {
		t.Errorf("app started although its dependency exited for good: %+v", app)
	}
}

// TestCLIUpWaitApplyOutlastsTimeout: when the apply request itself
// outlasts --wait-timeout (here a restart waiting out the old sandbox's
// stop_grace_period), up --wait says so and what it saw, never a bare
// "context deadline exceeded"; down then takes the project down at once.
func TestCLIUpWaitApplyOutlastsTimeout(t *testing.T) {
	c := newCLI(t)
	yaml := "name: " + c.project + `
services:
  stubborn:
    command: ["/bin/busybox", "sh", "-c", "trap '' TERM; while true; do /bin/busybox sleep 0.1; done"]
    environment: {MODE: MODE_VALUE}
    stop_grace_period: 10s
`
	c.writeYAML(strings.Replace(yaml, "MODE_VALUE", "one", 1))
	c.must("up", "-d", "--wait", "--no-watch")
	c.writeYAML(strings.Replace(yaml, "MODE_VALUE", "two", 1))
	start := time.Now()
	_, errOut, code := c.runWithin(30*time.Second, "up", "-d", "--wait", "--wait-timeout", "2s")
	t.Logf("up --wait after %s: %s", time.Since(start).Round(time.Millisecond), errOut)
	if code != 1 || !strings.Contains(errOut, "pass did not finish within 2s") || !strings.Contains(errOut, "stubborn-1") &&
		!strings.Contains(errOut, "every replica runs, but the pass applying the files has not finished") {
		t.Errorf("up --wait whose apply outlasts the timeout: exit code %d, stderr:\n%s", code, errOut)
	}
	// down while that pass still waits: the pass's stop and down's stop of
	// the same sandbox both succeed (the second finds nothing to kill).
	if out, errOut, code := c.run("down", "--timeout", "0s"); code != 0 {
		t.Errorf("down while the pass stops stubborn: exit code %d\n%s%s", code, out, errOut)
	}
	c.assertNoLeaks()
}

// startYAML: db serves a second after it starts, unless ./state/broken
// exists: then it exits 3 and restart: "no" leaves it exited.
const startYAML = `
services:
  db:
    command: ["/bin/busybox", "sh", "-c", "if [ -e /state/broken ]; then echo db-broken; exit 3; fi; /bin/busybox sleep 1; exec /bin/busybox httpd -f -p 5432 -h /state"]
    volumes: ["./state:/state"]
    restart: "no"
    healthcheck: {tcp: 5432, interval: 100ms}
    stop_grace_period: 0s
` + appNeedsDB

// TestCLIStartWaitsUntilRunning: nucleus start returns once the service
// runs, as Compose's start does: app, started with its stopped dependency,
// runs when start returns (before: start returned with app still waiting
// for db to turn healthy). A dependency that will not come fails start at
// once, naming it, its exit code and its log.
func TestCLIStartWaitsUntilRunning(t *testing.T) {
	c := newCLI(t)
	state := filepath.Join(c.dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	c.writeYAML("name: " + c.project + startYAML)
	c.must("up", "-d", "--wait", "--wait-timeout", "30s")

	c.must("stop", "app", "db")
	start := time.Now()
	c.must("start", "app")
	took := time.Since(start)
	rows := c.ps("-a")
	t.Logf("start app returned after %s", took.Round(time.Millisecond))
	if rows["app"].State != "running" || rows["db"].State != "healthy" {
		t.Errorf("right after start app: app %s (waiting for %q), db %s; want app running and db healthy",
			rows["app"].State, rows["app"].WaitingFor, rows["db"].State)
	}

	c.must("stop", "app", "db")
	testutil.WriteFile(t, filepath.Join(state, "broken"), "")
	start = time.Now()
	_, errOut, code := c.runWithin(60*time.Second, "start", "app", "--timeout", "30s")
	took = time.Since(start)
	t.Logf("start app with db broken: exit code %d after %s:\n%s", code, took.Round(time.Millisecond), errOut)
	for _, want := range []string{"db-1", "exit code 3", "db-broken"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("start app with db broken: exit code %d, want 1 and stderr naming %q", code, want)
		}
	}
	if took > 15*time.Second {
		t.Errorf("start took %s for a dependency that exited for good, want a few seconds", took)
	}
	c.must("down")
	c.assertNoLeaks()
}
