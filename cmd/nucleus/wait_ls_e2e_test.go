package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCLIWaitAndLs: wait blocks until the replicas exit and exits with the
// first's code; ls lists the project under the state root with its status
// and files, and with -a once nothing runs.
func TestCLIWaitAndLs(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + `
services:
  job:
    command: ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 1; exit 3"]
    restart: "no"
  ok:
    command: ["/bin/busybox", "true"]
    restart: "no"
  other:
    command: ["/bin/busybox", "sleep", "1000"]
    stop_grace_period: 0s
`)
	start := time.Now()
	c.must("up", "-d")

	out := c.must("ls")
	if !regexp.MustCompile(`(?m)^NAME +STATUS +CONFIG FILES\n` + c.project + ` +(exited\(1\), )?running\(\d\) +` + regexp.QuoteMeta(c.dir) + `/nucleus.yaml$`).MatchString(out) {
		t.Errorf("ls:\n%s", out)
	}

	out, _, code := c.run("wait", "job", "ok")
	if out != "3\n0\n" || code != 3 {
		t.Errorf("wait job ok: stdout %q exit %d; want 3 and 0 printed, exit 3 (job's)", out, code)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("wait returned %s after up, before job (sleep 1) could exit", d)
	}
	// Exited already: at once, with the recorded code.
	if out, _, code := c.runWithin(5*time.Second, "wait", "ok"); out != "0\n" || code != 0 {
		t.Errorf("wait ok (exited): stdout %q exit %d", out, code)
	}
	if _, errOut, code := c.run("wait", "nosuch"); code != 2 || !strings.Contains(errOut, "no such service") {
		t.Errorf("wait nosuch: exit %d, stderr %q", code, errOut)
	}

	c.must("stop", "other")
	if out := c.must("ls"); strings.Contains(out, c.project) {
		t.Errorf("ls lists a project with nothing running:\n%s", out)
	}
	var rows []struct {
		Name   string   `json:"name"`
		Status string   `json:"status"`
		Files  []string `json:"config_files"`
	}
	out = c.must("ls", "-a", "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("ls -a --json: %v\n%s", err, out)
	}
	if r := rows[0]; r.Name != c.project || r.Status != "exited(2), stopped(1)" || len(r.Files) != 1 {
		t.Errorf("ls -a --json: %+v, want exited(2), stopped(1) and the project file", r)
	}
}
