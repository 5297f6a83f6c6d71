package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

const replicaCmdsYAML = `
services:
  app:
    command: ["/bin/busybox", "sh", "-c", "while true; do echo tick; /bin/busybox sleep 0.1; done"]
    restart: "no"
    stop_grace_period: 0s
  other:
    command: ["/bin/busybox", "sleep", "1000"]
    stop_grace_period: 0s
`

// logLines counts the lines service has logged so far.
func (c *cli) logLines(service string) int {
	c.t.Helper()
	return strings.Count(c.must("logs", service), "\n")
}

// TestCLIReplicaCommands runs top, pause, unpause, stats and kill against
// the replicas of a real supervisor, with their error cases.
func TestCLIReplicaCommands(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + replicaCmdsYAML)
	c.must("up", "-d", "--wait")

	// top: the workload's processes with their PIDs inside the sandbox,
	// the user by its name in the sandbox, and the command line.
	out := c.must("top", "other")
	if !regexp.MustCompile(`(?m)^other-1\n.*PID +HOST PID +USER +TIME +CMD\n\d+ +\d+ +root +00:00:0\d +/bin/busybox sleep 1000$`).MatchString(out) {
		t.Errorf("top other:\n%s", out)
	}
	if strings.Contains(out, "nucleus") || strings.Contains(out, "app-1") {
		t.Errorf("top other lists the init or another service:\n%s", out)
	}
	if out := c.must("top"); !strings.Contains(out, "app-1\n") || !strings.Contains(out, "other-1\n") {
		t.Errorf("top without services lists not every replica:\n%s", out)
	}
	if _, errOut, code := c.run("top", "nosuch"); code != 2 || !strings.Contains(errOut, "no such service in project "+c.project+": nosuch (services: app, other)") {
		t.Errorf("top nosuch: exit %d, stderr %q; want 2 naming the service and the project's services", code, errOut)
	}

	// pause freezes: the output stops; ps shows paused; unpause resumes.
	if out := c.must("pause", "app"); out != "app-1\n" {
		t.Errorf("pause app printed %q", out)
	}
	rows := c.psPaused()
	if !rows["app-1"] || rows["other-1"] {
		t.Errorf("ps --json paused after pause app: %v, want app-1 only", rows)
	}
	if out := c.must("ps"); !regexp.MustCompile(`(?m)^app-1 +paused `).MatchString(out) {
		t.Errorf("ps after pause app shows no paused state:\n%s", out)
	}
	n := c.logLines("app")
	time.Sleep(700 * time.Millisecond)
	if m := c.logLines("app"); m != n {
		t.Errorf("app logged %d lines while paused", m-n)
	}
	c.must("unpause", "app")
	time.Sleep(700 * time.Millisecond)
	if m := c.logLines("app"); m <= n {
		t.Errorf("app logged nothing after unpause (%d lines before, %d after)", n, m)
	}
	if rows := c.psPaused(); rows["app-1"] {
		t.Errorf("ps still shows app-1 paused after unpause")
	}
	if _, errOut, code := c.run("unpause", "app"); code != 1 || !strings.Contains(errOut, "app-1 of project "+c.project+" is not paused") {
		t.Errorf("unpause of a running replica: exit %d, stderr %q", code, errOut)
	}

	// stats: one sample from the cgroup.
	var st []struct {
		Name        string  `json:"name"`
		CPUPercent  float64 `json:"cpu_percent"`
		MemoryBytes uint64  `json:"memory_bytes"`
		Pids        uint64  `json:"pids"`
	}
	out = c.must("stats", "--no-stream", "--json", "--interval", "300ms")
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 2 {
		t.Fatalf("stats --no-stream --json: %v\n%s", err, out)
	}
	for _, s := range st {
		if s.MemoryBytes == 0 || s.Pids == 0 || s.CPUPercent < 0 {
			t.Errorf("stats of %s: %+v, want memory and pids used", s.Name, s)
		}
	}
	if out := c.must("stats", "--no-stream", "--interval", "100ms", "other"); !regexp.MustCompile(`(?m)^NAME +CPU % +MEM USAGE / LIMIT +MEM % +PIDS +BLOCK I/O\nother-1 +\d+\.\d\d% `).MatchString(out) {
		t.Errorf("stats --no-stream other:\n%s", out)
	}

	// kill: the signal reaches the workload; restart: "no" leaves it exited.
	if out := c.must("kill", "-s", "TERM", "app"); out != "app-1: SIGTERM\n" {
		t.Errorf("kill -s TERM app printed %q", out)
	}
	c.waitState("app", "exited")
	if ec := c.ps("-a")["app"].ExitCode; ec == nil || *ec != 143 {
		t.Errorf("app after kill -s TERM: exit code %v, want 143", ec)
	}
	if other := c.ps()["other"]; other.State != "running" {
		t.Errorf("kill app touched other: %+v", other)
	}
	for _, cmd := range [][]string{{"kill", "app"}, {"top", "app"}, {"pause", "app"}} {
		if _, errOut, code := c.run(cmd...); code != 1 || !strings.Contains(errOut, "no running replica of app of project "+c.project) {
			t.Errorf("%s on an exited replica: exit %d, stderr %q", strings.Join(cmd, " "), code, errOut)
		}
	}
	if _, errOut, code := c.run("kill", "-s", "NOPE", "other"); code != 2 || !strings.Contains(errOut, `unknown signal "NOPE"`) {
		t.Errorf("kill -s NOPE: exit %d, stderr %q", code, errOut)
	}
}

// psPaused maps replica names to ps --json's paused.
func (c *cli) psPaused() map[string]bool {
	c.t.Helper()
	var rows []struct {
		Name   string `json:"name"`
		Paused bool   `json:"paused"`
	}
	out := c.must("ps", "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		c.t.Fatalf("ps --json: %v\n%s", err, out)
	}
	m := map[string]bool{}
	for _, r := range rows {
		m[r.Name] = r.Paused
	}
	return m
}

// waitState waits until service's last replica is in state.
func (c *cli) waitState(service, state string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.ps("-a")[service].State != state {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %+v, want %s", service, c.ps("-a")[service], state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
