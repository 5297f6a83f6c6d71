package main

import (
	"strings"
	"testing"
)

// TestCLIPsWithoutSupervisor: after the supervisor was killed, ps still
// lists the replicas from the records and says that no supervisor runs
// them (it showed "healthy" as if one did, while nothing checked or
// restarted them, and a rootless project's published ports had stopped
// answering); with a supervisor it says nothing of the kind.
func TestCLIPsWithoutSupervisor(t *testing.T) {
	c := newCLI(t)
	c.must("up", "-d", "--wait")
	want := "no supervisor runs project " + c.project
	if _, errOut, code := c.run("ps"); code != 0 || strings.Contains(errOut, want) {
		t.Errorf("ps with a supervisor: exit %d, stderr %q", code, errOut)
	}
	c.killSupervisor()
	out, errOut, code := c.run("ps")
	if code != 0 || !strings.Contains(out, "web-1") || !strings.Contains(errOut, want) || !strings.Contains(errOut, "nucleus up -d") {
		t.Errorf("ps without a supervisor: exit %d, want the replicas and %q:\nstdout:\n%s\nstderr:\n%s", code, want, out, errOut)
	}
}
