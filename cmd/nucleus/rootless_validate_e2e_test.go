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
// published port below net.ipv4.ip_unprivileged_port_start, at the file,
// line and key that publish it (the warning named the service only), which
// up refuses only once the supervisor and the network are up; a port above
// it and an ephemeral one get no line, and root gets none.
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
	want := fmt.Sprintf("warning: nucleus.yaml:5:5: services.low.ports: published port 80/tcp is below net.ipv4.ip_unprivileged_port_start=%d: ", start)
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

// TestRootlessNoTun: on a host whose /dev/net/tun only root may open, an
// ordinary user is told so, with the fix, by validate (a warning), by up
// before anything starts and by run: up started the supervisor, whose
// network failed with slirp4netns's 'open("/dev/net/tun"): Permission
// denied' after a second start without its seccomp filter, and kept the
// service in backoff.
func TestRootlessNoTun(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	port := strconv.Itoa(testutil.FreePort(t))
	e.WriteProject(t, "name: notun\nservices:\n  web:\n    command: [/bin/busybox, httpd, -f, -p, \"8080\"]\n    ports: [\"127.0.0.1:"+port+":8080\"]\n")
	want := "/dev/net/tun (mode 0600, owner uid 0) cannot be opened by uid " + strconv.Itoa(u.UID)
	fix := "chmod 0666 /dev/net/tun"

	r := e.RunWithTun(t, 0o600, nucleusBin, "validate")
	if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); r.Code != 0 || len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.Contains(lines[0], fix) {
		t.Errorf("validate: want exit 0 and one line naming %q and %q: %s", want, fix, r)
	}
	r = e.RunWithTun(t, 0o600, nucleusBin, "up", "-d", "--wait")
	if r.Code != 1 || strings.Count(r.Stderr, want) != 1 || !strings.Contains(r.Stderr, fix) || strings.Contains(r.Stderr, "supervisor") {
		t.Errorf("up: want exit 1 and %q once, nothing started: %s", want, r)
	}
	r = e.RunWithTun(t, 0o600, nucleusBin, "run", "-p", "127.0.0.1:"+port+":80", "--", "/bin/true")
	if r.Code != 125 || !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, fix) || strings.Contains(r.Stderr, "seccomp") {
		t.Errorf("run -p: want exit 125 naming %q: %s", want, r)
	}
	// Services without networks need no device: the project has no
	// network to create (its unused "default" network was made and failed).
	e.WriteProject(t, "name: notunnone\nservices:\n  job:\n    command: [/bin/busybox, sleep, \"60\"]\n    networks: []\n")
	if r := e.RunWithTun(t, 0o600, nucleusBin, "up", "-d", "--wait"); r.Code != 0 || strings.Contains(r.Stderr, "/dev/net/tun") {
		t.Errorf("up of services without networks: %s", r)
	}
	if r := e.RunWithTun(t, 0o600, nucleusBin, "down"); r.Code != 0 {
		t.Errorf("down: %s", r)
	}
	// The device the user may open: nothing said.
	if r := e.RunWithTun(t, 0o666, nucleusBin, "validate"); r.Code != 0 || strings.Contains(r.Stderr, "/dev/net/tun") {
		t.Errorf("validate with a 0666 /dev/net/tun: %s", r)
	}
}
