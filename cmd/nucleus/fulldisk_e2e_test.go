package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/runtime"
)

// web is on the default network; lo has none, so that scaling it up makes
// the sandbox's own record the first write to fail (not an address's).
const fullDiskYAML = `name: NAME
services:
  web:
    command: ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/"]
    healthcheck: {tcp: 8080, interval: 200ms}
    stop_grace_period: 1s
  lo:
    command: ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/"]
    healthcheck: {tcp: 8080, interval: 200ms}
    networks: []
    replicas: REPLICAS
    stop_grace_period: 1s
`

// TestFullDisk: with the state root on a full file system, up --wait fails
// at once naming the cause and leaves no half-made replica; once space is
// freed the next up works; down on a full disk completes and leaves nothing.
// (It used to end in "context deadline exceeded", with the supervisor
// wedged in a Create that waited for an init it never killed and down
// hanging behind it.)
func TestFullDisk(t *testing.T) {
	c := newCLI(t)
	fs := testutil.MountSmallFS(t, c.root, 2<<20)
	t.Cleanup(func() { // before the unmount: the state lives on the small fs
		fs.Free(t)
		if _, _, code := c.runWithin(30*time.Second, "down", "--timeout", "0s"); code == -1 {
			// down hung (the bug this test is about): end the supervisor
			// and the inits so that the test ends, then report the rest.
			for _, pid := range append([]int{c.supervisorPID()}, initPids(t, c)...) {
				if pid > 0 {
					_ = unix.Kill(pid, unix.SIGKILL)
				}
			}
		}
		c.assertNoLeaks()
	})
	write := func(replicas int) {
		c.writeYAML(strings.NewReplacer("NAME", c.project, "REPLICAS", fmt.Sprint(replicas)).Replace(fullDiskYAML))
	}
	replicas := func() map[string]psRow {
		m := map[string]psRow{}
		for _, r := range c.psRows() {
			m[fmt.Sprintf("%s-%d", r.Service, r.Replica)] = r
		}
		return m
	}
	// upFails runs up --wait on the full disk: it must fail at once, saying why.
	upFails := func(what string) {
		t.Helper()
		start := time.Now()
		out, errs, code := c.runWithin(45*time.Second, "up", "--wait", "--wait-timeout", "30s")
		took := time.Since(start)
		t.Logf("%s on a full disk: exit %d after %s\n%s%s", what, code, took.Round(time.Millisecond), out, errs)
		if code == 0 || took > 10*time.Second || !strings.Contains(errs, "no space left on device") {
			t.Errorf("%s on a full disk: exit %d after %s; want a quick failure saying %q", what, code, took.Round(time.Millisecond), "no space left on device")
		}
	}

	// Nothing exists yet: the records of the network and of the id range
	// are the first writes to fail; no bridge or table may stay unrecorded.
	write(1)
	fs.Fill(t)
	upFails("first up")
	if leaks, err := network.LeakCheck(c.rootdir()); err != nil || slices.ContainsFunc(leaks, func(l string) bool {
		return !strings.HasPrefix(l, "state ")
	}) {
		t.Errorf("after a first up on a full disk: %v %v; want no link or table", leaks, err)
	}
	fs.Free(t)
	c.must("up", "--wait", "--wait-timeout", "60s")

	// A scale-up of lo: the new sandbox's record is the first write to fail.
	fs.Fill(t)
	write(2)
	upFails("scale-up")
	if r := replicas(); r["web-1"].Health != "healthy" || r["lo-1"].Health != "healthy" || r["lo-2"].State == "running" || r["lo-2"].State == "healthy" {
		t.Errorf("after the failed scale-up: %+v; want web-1 and lo-1 healthy and lo-2 not running", r)
	}
	if n := len(initPids(t, c)); n != 2 {
		t.Errorf("%d sandbox inits run, want 2 (web-1's and lo-1's): a failed Create left one", n)
	}

	fs.Free(t)
	start := time.Now()
	out, errs, code := c.runWithin(45*time.Second, "up", "--wait", "--wait-timeout", "30s")
	if code != 0 {
		t.Fatalf("up --wait once space was freed: exit %d after %s\n%s%s", code, time.Since(start).Round(time.Millisecond), out, errs)
	}
	t.Logf("up --wait once space was freed: %s", time.Since(start).Round(time.Millisecond))
	if r := replicas(); r["web-1"].Health != "healthy" || r["lo-1"].Health != "healthy" || r["lo-2"].Health != "healthy" {
		t.Errorf("after freeing space: %+v; want web-1, lo-1 and lo-2 healthy", r)
	}

	fs.Fill(t)
	start = time.Now()
	out, errs, code = c.runWithin(30*time.Second, "down")
	took := time.Since(start)
	t.Logf("down on a full disk: exit %d after %s\n%s%s", code, took.Round(time.Millisecond), out, errs)
	if code != 0 {
		t.Errorf("down on a full disk: exit %d after %s", code, took.Round(time.Millisecond))
	}
	c.assertNoLeaks()
}

// initPids are the sandbox inits of c's root that run.
func initPids(t *testing.T, c *cli) []int {
	leaks, err := runtime.LeakCheck(c.rootdir())
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, l := range leaks {
		var pid int
		if _, err := fmt.Sscanf(l, "process %d", &pid); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
