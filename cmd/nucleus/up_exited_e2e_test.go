package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLIUpStartsExitedReplicas (issue 11, defect 2): up -d starts every
// replica of the selected services that does not run — killed or crashed
// with restart: "no", or stopped with nucleus stop — as compose does, and
// leaves replicas that run the current configuration alone (same PID). A
// file edit (hot reload) does not start an exited restart: "no" replica.
func TestCLIUpStartsExitedReplicas(t *testing.T) {
	c := newCLI(t)
	yaml := "name: " + c.project + `
services:
  keep:
    command: ["/bin/busybox", "sleep", "1000"]
    stop_grace_period: 0s
  worker:
    command: ["/bin/busybox", "sleep", "1000"]
    restart: "no"
    stop_grace_period: 0s
`
	c.writeYAML(yaml)
	c.must("up", "-d", "--wait")
	before := c.ps()
	if before["worker"].State != "running" || before["keep"].State != "running" {
		t.Fatalf("up -d --wait: %+v", before)
	}
	kill := func() {
		t.Helper()
		pid := c.ps("-a")["worker"].PID
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill worker (pid %d): %v", pid, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for c.ps("-a")["worker"].State != "exited" {
			if time.Now().After(deadline) {
				t.Fatalf("worker after SIGKILL: %+v, want exited", c.ps("-a")["worker"])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	kill()
	// A file edit is a reload, not an up: the exited restart: "no" replica
	// stays exited.
	c.writeYAML(yaml + "# edited\n")
	time.Sleep(1500 * time.Millisecond)
	if st := c.ps("-a")["worker"].State; st != "exited" {
		t.Fatalf("after a file edit worker is %q, want it left exited", st)
	}

	c.must("up", "-d", "--wait")
	after := c.ps()
	if after["worker"].State != "running" || after["worker"].PID == before["worker"].PID {
		t.Errorf("up -d after worker was killed: worker %+v, want running with a new PID", after["worker"])
	}
	if after["keep"].PID != before["keep"].PID {
		t.Errorf("up -d restarted keep: pid %d -> %d", before["keep"].PID, after["keep"].PID)
	}

	// up SERVICE starts that service's exited replica too.
	kill()
	c.must("up", "-d", "--wait", "worker")
	if w := c.ps("-a")["worker"]; w.State != "running" {
		t.Errorf("up -d worker after worker was killed: %+v, want running", w)
	}

	// A replica stopped with nucleus stop starts again with up.
	c.must("stop", "worker")
	c.must("up", "-d", "--wait")
	final := c.ps()
	if final["worker"].State != "running" || final["keep"].PID != before["keep"].PID {
		t.Errorf("up -d after stop worker: %+v", final)
	}
}

// TestCLIUpWaitFailsForReplicaThatWillNotRun (issue 11, defect 3): a
// replica that exited and whose restart policy does not start it again
// fails up --wait at once (exit 1), naming the replica, its exit code and
// its last log lines, instead of waiting out --wait-timeout. Without a
// health check too: the crash is seen running for a glimpse, which must
// not pass for ready.
func TestCLIUpWaitFailsForReplicaThatWillNotRun(t *testing.T) {
	// Short subtest names: the state root's path holds a unix socket.
	for name, check := range map[string]string{"hc": "healthcheck: {tcp: 9, interval: 100ms}", "nohc": "# no healthcheck"} {
		t.Run(name, func(t *testing.T) {
			c := newCLI(t)
			c.writeYAML("name: " + c.project + `
services:
  ok:
    command: ["/bin/busybox", "sleep", "1000"]
    stop_grace_period: 0s
  crash:
    command: ["/bin/busybox", "sh", "-c", "echo boom-before-exit; /bin/busybox sleep 0.05; exit 3"]
    restart: "no"
    ` + check + `
    stop_grace_period: 0s
`)
			start := time.Now()
			_, errOut, code := c.run("up", "-d", "--wait", "--wait-timeout", "60s")
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("up --wait took %s for a replica that will not run", d)
			}
			for _, want := range []string{"crash-1", "exit code 3", "boom-before-exit"} {
				if code != 1 || !strings.Contains(errOut, want) {
					t.Errorf("up --wait: exit code %d, want 1 and stderr naming %q:\n%s", code, want, errOut)
				}
			}
		})
	}
}
