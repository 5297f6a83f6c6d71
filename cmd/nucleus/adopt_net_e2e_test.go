package main

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
	"nucleus/reconcile/api"
)

// webClientYAML: web serves a page on a published port, client fetches it
// by name; clientExtra is added to client's lines, netOpts are the default
// network's options ("nat: userspace", "userspace_backend: pasta"; "" for
// the defaults).
func webClientYAML(name string, port int, clientExtra, netOpts string) string {
	y := fmt.Sprintf(`name: %s
services:
  web:
    command: [/bin/sh, -c, "mkdir /tmp/s && echo hello from web >/tmp/s/index.html && exec /bin/busybox httpd -f -p 8080 -h /tmp/s"]
    ports: ["127.0.0.1:%d:8080"]
  client:
    command: [/bin/busybox, sleep, "3600"]
`, name, port) + clientExtra
	if netOpts != "" {
		y += "networks:\n  default: {" + netOpts + "}\n"
	}
	return y
}

// killSupervisor SIGKILLs the supervisor whose pid pid returns and waits
// until it is gone.
func killSupervisor(t *testing.T, pid func() int) {
	t.Helper()
	p := pid()
	if p == 0 {
		t.Fatal("no supervisor runs")
	}
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "supervisor gone", 5*time.Second, func() bool { return pid() == 0 })
}

// TestRootlessHubAfterSupervisorKill: after kill -9 of an ordinary user's
// supervisor (its slirp4netns and resolver die with it; pasta outlives it
// and is kept), a new up adopts the sandboxes and gives the hub its way
// out, published port and names back: client still reaches web by name,
// the port still answers; with either way out.
func TestRootlessHubAfterSupervisorKill(t *testing.T) {
	for _, b := range hubBackends {
		t.Run(b, func(t *testing.T) { rootlessHubAfterKill(t, b) })
	}
}

func rootlessHubAfterKill(t *testing.T, backend string) {
	u := testutil.RootlessUser(t, testutil.UserA)
	testutil.RequireBinary(t, "nsenter", "util-linux")
	requireHelper(t, backend)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	port := testutil.FreePort(t)
	defer rootlessUp(t, e, webClientYAML("rlkill", port, "", "userspace_backend: "+backend))()
	fetch := func(when string) {
		t.Helper()
		r := e.Run(t, nucleusBin, "exec", "client", "--", "/bin/busybox", "timeout", "10", "/bin/busybox", "wget", "-q", "-O-", "http://web:8080/")
		if r.Code != 0 || r.Stdout != "hello from web\n" {
			t.Errorf("%s: client fetching http://web:8080/: %s", when, r)
		}
		if body := getPublished(t, port); body != "hello from web\n" {
			t.Errorf("%s: GET 127.0.0.1:%d: %q", when, port, body)
		}
	}
	fetch("before the kill")
	pids := func() string { return e.Run(t, nucleusBin, "ps", "-q").Stdout }
	before, helpersBefore := pids(), helperProcs(e, backend)
	killSupervisor(t, func() int { p, _ := api.Running(e.Root, "rlkill"); return p })
	if r := e.Run(t, nucleusBin, "up", "-d", "--wait"); r.Code != 0 {
		t.Fatalf("up -d after kill -9 of the supervisor: %s", r)
	}
	if after := pids(); after != before || strings.TrimSpace(after) == "" {
		t.Errorf("the new supervisor did not adopt the sandboxes: ps -q %q -> %q", before, after)
	}
	fetch("after kill -9 and up")
	// slirp4netns died with the supervisor and was started anew; pasta
	// runs on and is kept (its forwards did not change).
	after := helperProcs(e, backend)
	if len(after) != 1 || backend == "pasta" && !slices.Equal(after, helpersBefore) {
		t.Errorf("%s of the user before the kill %q, after %q: want one, and the same pasta", backend, helpersBefore, after)
	}
}

// helperProcs lists e's user's processes running the command backend.
func helperProcs(e *testutil.UserEnv, backend string) []string {
	var out []string
	for _, p := range e.Processes() {
		if strings.Contains(p, ": "+backend+" ") {
			out = append(out, p)
		}
	}
	return out
}

// TestUserspaceHubAfterSupervisorKill is the same as root on a nat:
// userspace network (the hub's slirp4netns and resolver die with the
// supervisor there too), with either way out.
func TestUserspaceHubAfterSupervisorKill(t *testing.T) {
	for _, b := range hubBackends {
		t.Run(b, func(t *testing.T) { userspaceHubAfterKill(t, b) })
	}
}

func userspaceHubAfterKill(t *testing.T, backend string) {
	c := newCLI(t)
	testutil.RequireBinary(t, "slirp4netns", "slirp4netns")
	requireHelper(t, backend)
	c.writeYAML(webClientYAML(c.project, c.port, "", "nat: userspace, userspace_backend: "+backend))
	c.must("up", "-d", "--wait")
	fetch := func(when string) {
		t.Helper()
		out, errOut, code := c.run("exec", "client", "--", "/bin/busybox", "timeout", "10", "/bin/busybox", "wget", "-q", "-O-", "http://web:8080/")
		if code != 0 || out != "hello from web\n" {
			t.Errorf("%s: client fetching http://web:8080/: exit %d, %q, %q", when, code, out, errOut)
		}
		if body := getPublished(t, c.port); body != "hello from web\n" {
			t.Errorf("%s: GET 127.0.0.1:%d: %q", when, c.port, body)
		}
	}
	fetch("before the kill")
	before := c.ps()
	killSupervisor(t, c.supervisorPID)
	c.must("up", "-d", "--wait")
	for name, r := range c.ps() {
		if r.PID != before[name].PID {
			t.Errorf("%s not adopted: pid %d -> %d", name, before[name].PID, r.PID)
		}
	}
	fetch("after kill -9 and up")
}
