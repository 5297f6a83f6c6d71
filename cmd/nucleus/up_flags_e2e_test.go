package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// loopService is a service that loops until SIGTERM, with extra lines.
func loopService(name, extra string) string {
	return "  " + name + ":\n" +
		`    command: ["/bin/busybox", "sh", "-c", "trap 'exit 0' TERM; while true; do /bin/busybox sleep 0.2; done"]` + "\n" +
		"    stop_grace_period: 2s\n" + extra
}

var upFlagsYAML = "name: NAME\nservices:\n" + loopService("db", "") + loopService("web", "    depends_on: [db]\n")

func (c *cli) replicasOf(service string, args ...string) []psRow {
	c.t.Helper()
	var out []psRow
	for _, r := range c.psRows(args...) {
		if r.Service == service {
			out = append(out, r)
		}
	}
	return out
}

// TestCLIUpScaleRecreate: --scale replaces replicas until the next up (a
// reload keeps it), --force-recreate starts every running replica anew
// while a plain up leaves them alone, and bad values exit 2.
func TestCLIUpScaleRecreate(t *testing.T) {
	c := newCLI(t)
	c.writeYAML(strings.ReplaceAll(upFlagsYAML, "NAME", c.project))
	c.must("up", "-d", "--wait")
	c.must("up", "-d", "--wait", "--scale", "db=3")
	if n := len(c.replicasOf("db")); n != 3 {
		t.Fatalf("up --scale db=3: %d db replicas, want 3", n)
	}
	// A reload (SIGHUP) reads the files again and keeps the scale.
	if err := syscall.Kill(c.supervisorPID(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if n := len(c.replicasOf("db")); n != 3 {
		t.Errorf("after a reload: %d db replicas, want the scale (3) kept", n)
	}
	c.must("up", "-d", "--wait")
	if n := len(c.replicasOf("db")); n != 1 {
		t.Errorf("up without --scale: %d db replicas, want the file's 1", n)
	}

	before := c.pids()
	c.must("up", "-d", "--wait")
	if same := c.pids(); same["db"] != before["db"] || same["web"] != before["web"] {
		t.Errorf("plain up restarted unchanged replicas: %v -> %v", before, same)
	}
	out := c.must("up", "-d", "--wait", "--force-recreate")
	after := c.pids()
	for svc, pid := range before {
		if after[svc] == 0 || after[svc] == pid {
			t.Errorf("up --force-recreate: %s pid %d -> %d, want a new replica", svc, pid, after[svc])
		}
	}
	if !strings.Contains(out, "up --force-recreate") {
		t.Errorf("up --force-recreate printed no step naming it as the cause:\n%s", out)
	}

	for _, bad := range [][]string{{"--scale", "nope=2"}, {"--scale", "db"}, {"--scale", "db=0"}, {"-d", "--abort-on-container-exit"}, {"--exit-code-from", "nope"}} {
		_, errs, code := c.run(append([]string{"up"}, bad...)...)
		if code != 2 || errs == "" {
			t.Errorf("up %v: exit %d stderr %q, want 2 with the reason", bad, code, errs)
		}
	}
	_, errs, _ := c.run("up", "--scale", "nope=2")
	if !strings.Contains(errs, "no such service") || !strings.Contains(errs, "db, web") {
		t.Errorf("up --scale nope=2: %q, want the project's services named", errs)
	}
}

// TestCLIUpNoDeps: up --no-deps SERVICE starts that service without what
// it depends on; a later up starts the rest.
func TestCLIUpNoDeps(t *testing.T) {
	c := newCLI(t)
	c.writeYAML(strings.ReplaceAll(upFlagsYAML, "NAME", c.project))
	c.must("up", "-d", "--wait", "--no-deps", "web")
	if rows := c.psRows("-a"); len(rows) != 1 || rows[0].Service != "web" || rows[0].State != "running" {
		t.Fatalf("up --no-deps web: %v, want web alone, running", rows)
	}
	c.must("up", "-d", "--wait")
	if got := c.ps(); got["db"].State != "running" || got["web"].State != "running" {
		t.Errorf("up after up --no-deps: %v, want db and web running", got)
	}
}

var abortYAML = "name: NAME\nservices:\n" + loopService("long", "") + `  short:
    command: ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 1; echo done; exit 3"]
    restart: "no"
`

// TestCLIUpAbortOnContainerExit: in the foreground, --abort-on-container-exit
// stops everything when a replica exits (exiting with its code, as Compose
// does), and --exit-code-from
// SERVICE exits with that service's code (1 when another one's exit ended
// the run first).
func TestCLIUpAbortOnContainerExit(t *testing.T) {
	c := newCLI(t)
	c.writeYAML(strings.ReplaceAll(abortYAML, "NAME", c.project))
	for _, tc := range []struct {
		flags []string
		code  int
		say   string
	}{
		{[]string{"--abort-on-container-exit"}, 3, "short-1 exited with code 3"},
		{[]string{"--exit-code-from", "short"}, 3, "short-1 exited with code 3"},
		{[]string{"--exit-code-from", "long"}, 1, "--exit-code-from long: it did not exit by itself"},
	} {
		_, errs, code := c.runWithin(40*time.Second, append([]string{"up", "--no-watch"}, tc.flags...)...)
		if code != tc.code || !strings.Contains(errs, tc.say) || !strings.Contains(errs, "stopped and removed") {
			t.Errorf("up %v: exit %d (-1: still running after 40 s), want %d saying %q and that the project was removed; stderr:\n%s", tc.flags, code, tc.code, tc.say, errs)
		}
		if rows := c.psRows("-a"); len(rows) != 0 {
			t.Errorf("up %v left replicas: %v", tc.flags, rows)
		}
	}
}
