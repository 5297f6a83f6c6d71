package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
)

// TestRootlessValidateLowPort: validate warns an ordinary user of a
// published port below net.ipv4.ip_unprivileged_port_start, which up
// refuses only once the supervisor and the network are up; a port above it
// and an ephemeral one get no line, and root gets none.
func TestRootlessValidateLowPort(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		t.Fatal(err)
	}
	start, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	testutil.Require(t, start > 80, "net.ipv4.ip_unprivileged_port_start above 80 (it is "+strconv.Itoa(start)+")")
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)

	e.WriteProject(t, "name: lowport\nservices:\n"+
		"  low:\n    command: [/bin/busybox, httpd, -f, -p, \"80\"]\n    ports: [\"127.0.0.1:80:80\"]\n"+
		"  high:\n    command: [/bin/busybox, httpd, -f, -p, \"80\"]\n    ports: [\"127.0.0.1:18080:80\", \"80\"]\n")
	r := e.Run(t, nucleusBin, "validate")
	want := fmt.Sprintf("nucleus: service low: published port 80/tcp is below net.ipv4.ip_unprivileged_port_start=%d: ", start)
	if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); r.Code != 0 || len(lines) != 1 ||
		!strings.HasPrefix(lines[0], want) || !strings.Contains(lines[0], "sysctl -w net.ipv4.ip_unprivileged_port_start=80") {
		t.Errorf("validate as %s: want exit 0 and one line %q...: %s", u.Name, want, r)
	}

	// As root the same file is fine.
	if out, errOut, code := runBin(t, e.Home, "", "validate"); code != 0 || strings.Contains(errOut, "ip_unprivileged_port_start") {
		t.Errorf("validate as root: exit %d: %s%s", code, out, errOut)
	}
}

// TestRootlessUpNoRange: a user without a subordinate id range is told so
// by up before anything starts (it started a supervisor that created the
// network and then backed the service off forever, printing the error
// twice), and by validate in one line.
func TestRootlessUpNoRange(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserNoRange)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	e.WriteProject(t, "name: norange\nservices:\n  web:\n    command: [/bin/busybox, httpd, -f, -p, \"8080\"]\n    ports: [\"127.0.0.1:18081:8080\"]\n")
	want := "has no subordinate id range in /etc/subuid"
	r := e.Run(t, nucleusBin, "up", "-d", "--wait")
	if r.Code != 1 || strings.Count(r.Stderr, want) != 1 || !strings.Contains(r.Stderr, "usermod --add-subuids") ||
		strings.Contains(r.Stderr, "supervisor") || strings.Contains(r.Stderr, "network") {
		t.Errorf("up: want exit 1 and the missing range named once, nothing started: %s", r)
	}
	if r := e.Run(t, nucleusBin, "ps"); strings.Contains(r.Stdout, "web-1") {
		t.Errorf("ps after the refused up lists a replica: %s", r)
	}
	r = e.Run(t, nucleusBin, "validate")
	if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); r.Code != 0 || len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("validate: want exit 0 and one line naming the missing range: %s", r)
	}
}
