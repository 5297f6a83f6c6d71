package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// TestCLIEvents streams the supervisor's replica events while a service
// starts and exits with code 3, another restarts and turns healthy, and the
// project goes down; the stream then ends with exit code 0.
func TestCLIEvents(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + `
services:
  web:
    command: ["/bin/busybox", "sleep", "1000"]
    healthcheck: {test: ["CMD", "/bin/busybox", "true"], interval: 200ms}
    stop_grace_period: 0s
  job:
    command: ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 0.3; exit 3"]
    restart: "no"
`)
	if _, errOut, code := c.run("events"); code != 1 || !strings.Contains(errOut, "no supervisor is running for project "+c.project) {
		t.Errorf("events without a supervisor: exit %d, stderr %q", code, errOut)
	}
	c.must("up", "-d", "--wait", "web")

	ev := exec.Command(nucleusBin, "--root", c.root, "events", "--json")
	ev.Dir = c.dir
	var out testutil.SyncBuffer
	var errOut bytes.Buffer
	ev.Stdout, ev.Stderr = &out, &errOut
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ev.Wait() }()
	t.Cleanup(func() { _ = ev.Process.Kill() })
	time.Sleep(700 * time.Millisecond) // subscribed

	c.must("up", "-d", "job")
	if _, _, code := c.runWithin(10*time.Second, "wait", "job"); code != 3 {
		t.Errorf("wait job: exit %d, want 3", code)
	}
	c.must("restart", "web")
	testutil.WaitFor(t, "web-1 healthy after restart", 10*time.Second, func() bool {
		return strings.Count(out.String(), `"health_status"`) >= 1
	})
	c.must("down")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("events after down: %v, want exit 0; stderr %q", err, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events still runs 10s after down")
	}
	if !strings.Contains(errOut.String(), "the supervisor of project "+c.project+" stopped") {
		t.Errorf("events stderr %q, want it to say the supervisor stopped", errOut.String())
	}

	seq := map[string][]string{}
	var jobExit *int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e struct {
			Type     string `json:"type"`
			Name     string `json:"name"`
			Time     time.Time
			ExitCode *int   `json:"exit_code"`
			Health   string `json:"health"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Time.IsZero() {
			t.Fatalf("events --json line %q: %v", line, err)
		}
		seq[e.Name] = append(seq[e.Name], e.Type)
		if e.Name == "job-1" && e.Type == "die" {
			jobExit = e.ExitCode
		}
	}
	want := map[string]string{
		"job-1": "create start die destroy",
		"web-1": "die destroy create start health_status die destroy",
	}
	for name, w := range want {
		if got := strings.Join(seq[name], " "); got != w {
			t.Errorf("events of %s: %q, want %q\n%s", name, got, w, out.String())
		}
	}
	if jobExit == nil || *jobExit != 3 {
		t.Errorf("die of job-1: exit code %v, want 3", jobExit)
	}
}
