package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"nucleus/internal/testutil"
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
