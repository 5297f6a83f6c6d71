package main

import (
	"strings"
	"testing"
	"time"
)

// TestCLIRm: rm removes stopped and exited replicas (ps -a no longer lists
// them) and leaves running ones; nothing but up brings them back (a file
// edit does not); -s stops first; without a terminal it needs -f.
func TestCLIRm(t *testing.T) {
	c := newCLI(t)
	yaml := "name: " + c.project + `
services:
  job:
    command: ["/bin/busybox", "true"]
    restart: "no"
  other:
    command: ["/bin/busybox", "sleep", "1000"]
    stop_grace_period: 0s
`
	c.writeYAML(yaml)
	c.must("up", "-d", "--wait", "other")
	c.must("up", "-d", "job")
	c.waitState("job", "exited")

	if _, errOut, code := c.run("rm"); code != 2 || !strings.Contains(errOut, "would remove job-1; give -f") {
		t.Errorf("rm without -f and no terminal: exit %d, stderr %q", code, errOut)
	}
	if out := c.must("rm", "-f"); out != "job-1\n" {
		t.Errorf("rm -f: %q, want job-1 only (other runs)", out)
	}
	rows := c.ps("-a")
	if _, ok := rows["job"]; ok || rows["other"].State != "running" {
		t.Errorf("ps -a after rm -f: %+v, want other running and no job", rows)
	}
	c.writeYAML(yaml + "# edited\n") // a pass: must not bring job back
	time.Sleep(1500 * time.Millisecond)
	if _, ok := c.ps("-a")["job"]; ok {
		t.Errorf("a file edit brought the removed job-1 back: %+v", c.ps("-a")["job"])
	}
	if out := c.must("rm", "-s", "-f", "other"); out != "other-1\n" {
		t.Errorf("rm -s -f other: %q", out)
	}
	if rows := c.psRows("-a"); len(rows) != 0 {
		t.Errorf("ps -a after rm -s -f other: %+v, want nothing", rows)
	}
	if _, errOut, code := c.run("rm", "-f"); code != 0 || !strings.Contains(errOut, "no stopped replicas") {
		t.Errorf("rm -f with nothing stopped: exit %d, stderr %q", code, errOut)
	}
	c.must("up", "-d", "--wait", "other")
	if rows := c.ps("-a"); rows["other"].State != "running" {
		t.Errorf("up after rm: %+v, want other running again", rows)
	}
	c.must("down")
	if _, errOut, code := c.run("rm", "-f"); code != 1 || !strings.Contains(errOut, "no supervisor is running for project "+c.project) {
		t.Errorf("rm without a supervisor: exit %d, stderr %q", code, errOut)
	}
}
