package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLILogsFileBeforeSubcommand: a flag before the subcommand is the
// root's, so `nucleus -f FILE logs` names the file and prints (it used to
// read -f as logs' --follow and FILE as a service, following forever); a
// service the project does not have is an error, not silence.
func TestCLILogsFileBeforeSubcommand(t *testing.T) {
	c := newCLI(t)
	c.must("up", "-d", "--wait")
	c.waitLog("worker", "worker | tick one")

	file := filepath.Join(c.dir, "nucleus.yaml")
	out, errs, code := c.runWithin(10*time.Second, "-f", file, "logs", "worker")
	if code != 0 || !strings.Contains(out, "worker | tick one") {
		t.Fatalf("nucleus -f FILE logs worker: exit %d (-1: still running after 10 s), stdout %q stderr %q", code, out, errs)
	}
	out, errs, code = c.runWithin(10*time.Second, "-f", file, "-p", c.project, "logs")
	if code != 0 || !strings.Contains(out, "worker | tick one") {
		t.Fatalf("nucleus -f FILE -p NAME logs: exit %d, stdout %q stderr %q", code, out, errs)
	}

	_, errs, code = c.runWithin(10*time.Second, "logs", "wroker")
	if code != 2 || !strings.Contains(errs, `no such service in project `+c.project+`: wroker`) || !strings.Contains(errs, "worker") {
		t.Errorf("logs of a service the project lacks: exit %d stderr %q, want 2 naming it and the services", code, errs)
	}
	// Without a readable file the services come from the state.
	_, errs, code = c.runWithin(10*time.Second, "-f", filepath.Join(c.dir, "missing.yaml"), "-p", c.project, "logs", "wroker")
	if code != 2 || !strings.Contains(errs, "no such service") {
		t.Errorf("logs -p of a service the state lacks: exit %d stderr %q, want 2", code, errs)
	}
}
