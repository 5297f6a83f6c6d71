package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// TestCLIUpWaitFailsAtOnceForTakenPort (issue 11, defect 10): a published
// host port that another program holds makes every start fail the same
// way, so up --wait fails within seconds, naming the replica and the port,
// although restart: always keeps retrying (before: it waited out
// --wait-timeout, or the half a minute to crashloop).
func TestCLIUpWaitFailsAtOnceForTakenPort(t *testing.T) {
	c := newCLI(t)
	port := testutil.HoldPort(t, "127.0.0.1")
	c.writeYAML("name: " + c.project + fmt.Sprintf(`
services:
  web:
    command: ["/bin/busybox", "httpd", "-f", "-p", "8080"]
    ports: ["127.0.0.1:%d:8080"]
    restart: always
    stop_grace_period: 0s
`, port))
	start := time.Now()
	_, errOut, code := c.run("up", "-d", "--wait", "--wait-timeout", "60s")
	took := time.Since(start)
	if took > 10*time.Second {
		t.Errorf("up --wait took %s for a port another program holds, want a few seconds", took)
	}
	for _, want := range []string{"web-1", fmt.Sprintf("127.0.0.1:%d/tcp is already in use", port), "taken by another program"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("up --wait (%s): exit code %d, want 1 and stderr naming %q:\n%s", took, code, want, errOut)
		}
	}
}
