package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/runtime/cgroups"
)

// ulimits, shm_size, tmpfs and extra_hosts' host-gateway from nucleus.yaml
// reach the running sandbox through up: the workload and exec'd processes
// see them.
func TestLimitsKeysEndToEnd(t *testing.T) {
	c := newCLI(t)
	// A host service, reached from the sandbox through host-gateway.
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Serve(t, l, func(conn net.Conn) { io.WriteString(conn, "from the host\n"); conn.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	c.writeYAML(fmt.Sprintf(`name: %s
services:
  app:
    command: ["/bin/busybox", "sleep", "600"]
    ulimits: {nofile: {soft: 1000, hard: 2000}, core: 0}
    shm_size: 16m
    tmpfs: ["/scratch:size=8m,mode=0700,exec", "/data:noexec"]
    extra_hosts: ["host.docker.internal:host-gateway"]
    stop_grace_period: 1s
`, c.project))
	c.must("up", "-d", "--wait", "--wait-timeout", "30s")
	sh := func(script string) string {
		return strings.TrimSpace(c.must("exec", "app", "--", "/bin/busybox", "sh", "-c", script))
	}
	if got := sh("echo $(ulimit -Sn) $(ulimit -Hn) $(ulimit -c)"); got != "1000 2000 0" {
		t.Errorf("ulimit -Sn -Hn -c = %q; want 1000 2000 0", got)
	}
	if got := sh("df -k /dev/shm /scratch | awk 'NR>1{print $2}' | tr '\\n' ' '; stat -c %a /scratch"); got != "16384 8192 700" {
		t.Errorf("/dev/shm and /scratch KiB and mode: %q; want 16384 8192 700", got)
	}
	if got := sh("cp /bin/busybox /scratch/sh && /scratch/sh -c 'echo ran'; cp /bin/busybox /data/sh && /data/sh -c true; echo data=$?"); got != "ran\ndata=126" {
		t.Errorf("exec from /scratch (exec) and /data (noexec): %q; want ran, data=126", got)
	}
	if got := sh(fmt.Sprintf("/bin/busybox nc host.docker.internal %d </dev/null", port)); got != "from the host" {
		t.Errorf("host.docker.internal:%d from the sandbox: %q (hosts: %s)", port, got, sh("cat /etc/hosts"))
	}
}

// Without cgroups (the rootless default on this host; here as root with
// NUCLEUS_CGROUP_MANAGER=none), nothing is dropped silently: validate, up
// and run say once, in one line per service, which limits are not
// enforced and why, and ps shows them as not enforced.
func TestLimitsNotEnforcedSaid(t *testing.T) {
	c := newCLI(t)
	t.Setenv(cgroups.ManagerEnv, "none")
	c.writeYAML(fmt.Sprintf(`name: %s
services:
  web:
    command: ["/bin/busybox", "sleep", "600"]
    resources: {memory: 64M, cpus: 0.5, pids: 20}
    stop_grace_period: 1s
  plain:
    command: ["/bin/busybox", "sleep", "600"]
    stop_grace_period: 1s
`, c.project))
	want := "nucleus: memory, cpus, pids limits of web are not enforced: " + cgroups.ManagerEnv + "=none\n"
	if _, errOut, code := c.run("validate"); code != 0 || errOut != want {
		t.Errorf("validate: exit %d, stderr %q; want exit 0 and %q", code, errOut, want)
	}
	_, errOut, code := c.run("up", "-d", "--wait", "--wait-timeout", "30s")
	if code != 0 || strings.Count(errOut, "not enforced") != 1 || !strings.Contains(errOut, want) {
		t.Errorf("up: exit %d, stderr %q; want the notice once: %q", code, errOut, want)
	}
	out := c.must("ps")
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == "web-1" && !strings.Contains(l, "memory,cpus,pids not enforced"):
			t.Errorf("ps row of web-1 does not say its limits are not enforced: %q", l)
		case len(f) > 0 && f[0] == "plain-1" && strings.Contains(l, "not enforced"):
			t.Errorf("ps row of plain-1 (no limits): %q", l)
		}
	}
	if !strings.Contains(out, "LIMITS") {
		t.Errorf("ps has no LIMITS column:\n%s", out)
	}
	var rows []struct {
		Name        string   `json:"name"`
		NotEnforced []string `json:"limits_not_enforced"`
		Why         string   `json:"not_enforced_why"`
	}
	if err := json.Unmarshal([]byte(c.must("ps", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	// (The detached supervisor was passed --cgroup-manager none.)
	for _, r := range rows {
		if r.Name == "web-1" && (strings.Join(r.NotEnforced, ",") != "memory,cpus,pids" || r.Why != "--cgroup-manager none") {
			t.Errorf("ps --json web-1: limits_not_enforced %v, not_enforced_why %q", r.NotEnforced, r.Why)
		}
	}
	_, errOut, code = c.run("run", "--pids", "5", "--name", "once-"+c.project, "--", "/bin/busybox", "true")
	if code != 0 || errOut != "nucleus: pids limit of once-"+c.project+" is not enforced: "+cgroups.ManagerEnv+"=none\n" {
		t.Errorf("run --pids 5: exit %d, stderr %q", code, errOut)
	}
}
