package main

import (
	"strings"
	"testing"
)

// TestCLIExecUser: exec -u runs the command as another user with the
// workload's other confinement (no capabilities, no_new_privs, seccomp,
// read-only root, the sandbox's cgroup); without -u the workload's user
// stays; an unknown user is an error naming the sandbox's /etc/passwd.
func TestCLIExecUser(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + `
services:
  app:
    command: ["/bin/busybox", "sleep", "1000"]
    user: "1000"
    stop_grace_period: 0s
`)
	c.must("up", "-d", "--wait")
	id := "/bin/busybox id -u; /bin/busybox id -g"
	if out := c.must("exec", "-T", "app", "/bin/busybox", "sh", "-c", id); out != "1000\n1000\n" {
		t.Errorf("exec app id: %q, want the service's user 1000", out)
	}
	out := c.must("exec", "-T", "-u", "root", "app", "/bin/busybox", "sh", "-c",
		id+"; /bin/busybox grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; /bin/busybox grep pids /proc/self/cgroup; /bin/busybox touch /etc/x 2>/dev/null || echo ro")
	for _, want := range []string{"0\n0\n", "CapEff:\t0000000000000000\n", "CapBnd:\t0000000000000000\n", "NoNewPrivs:\t1\n", "Seccomp:\t2\n", c.project + ".app.1\n", "ro\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("exec -u root app: output lacks %q:\n%s", want, out)
		}
	}
	if out := c.must("exec", "-T", "--user", "33:34", "app", "/bin/busybox", "sh", "-c", id); out != "33\n34\n" {
		t.Errorf("exec --user 33:34 app: %q", out)
	}
	if out := c.must("exec", "-T", "app", "/bin/busybox", "id", "-u"); out != "1000\n" {
		t.Errorf("exec app after exec -u root: %q, want 1000 still", out)
	}
	if _, errOut, code := c.run("exec", "-T", "-u", "nosuchuser", "app", "/bin/busybox", "true"); code != 1 || !strings.Contains(errOut, `user "nosuchuser": no such user in the sandbox's /etc/passwd`) {
		t.Errorf("exec -u nosuchuser: exit %d, stderr %q", code, errOut)
	}
}
