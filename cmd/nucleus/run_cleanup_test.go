package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/runtime"
)

// startRun starts `nucleus run ARGS...` in the background. Its stderr goes
// to a file, so that Wait does not wait for a surviving workload's copy of
// the pipe. At cleanup it gets SIGTERM (forwarded to the workload: the run
// cleans up after itself), SIGKILL only if that did not end it.
func (c *cli) startRun(args ...string) (*exec.Cmd, chan error) {
	c.t.Helper()
	cmd := exec.Command(nucleusBin, append([]string{"--root", c.root, "run"}, args...)...)
	cmd.Dir = c.dir
	f, err := os.CreateTemp(c.t.TempDir(), "stderr")
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() { err := cmd.Wait(); close(exited); done <- err }()
	c.t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return cmd, done
}

// attachedPID is the pid recorded for service/1 on the project network, 0
// when it is not attached.
func (c *cli) attachedPID(project, netName, service string) int {
	b, err := os.ReadFile(filepath.Join(c.rootdir().Run, "network", project, netName+".json"))
	if err != nil {
		return 0
	}
	var st network.NetworkState
	if err := json.Unmarshal(b, &st); err != nil {
		return 0
	}
	if a := st.Attachments[service+"/1"]; a != nil {
		return a.PID
	}
	return 0
}

// TestRunNameOfAServiceIsRefused: `run --network N --name S` where S is a
// service of the project, or the name of a running one-off sandbox, would
// take over (and on exit tear down) that sandbox's attachment: refused.
func TestRunNameOfAServiceIsRefused(t *testing.T) {
	c := newCLI(t)
	c.must("up", "-d", "--wait")
	webPid := c.attachedPID(c.project, "default", "web")
	if webPid == 0 {
		t.Fatal("web is not attached to the default network after up")
	}
	_, errs, code := c.run("run", "--network", "default", "--name", "web", "--", "/bin/true")
	if code != 125 || !strings.Contains(errs, "web") || !strings.Contains(errs, "service of project "+c.project) {
		t.Errorf("run --name web: code %d stderr %q, want 125 naming the service", code, errs)
	}
	if pid := c.attachedPID(c.project, "default", "web"); pid != webPid {
		t.Errorf("web's attachment pid %d → %d: the run took it over", webPid, pid)
	}
	if body, err := httpGet("http://127.0.0.1:" + strconv.Itoa(c.port) + "/"); err != nil || body == "" {
		t.Errorf("web after the refused run: %q %v", body, err)
	}

	// A name a running one-off sandbox holds on the network.
	holderCmd, done := c.startRun("--network", "default", "--name", "holder", "--", "/bin/busybox", "sleep", "60")
	testutil.WaitFor(t, "the holder run to attach", 10*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("holder run exited: %v", err)
		default:
		}
		return c.attachedPID(c.project, "default", "holder") != 0
	})
	holder := c.attachedPID(c.project, "default", "holder")
	_, errs, code = c.run("run", "--network", "default", "--name", "holder", "--", "/bin/true")
	if code != 125 || !strings.Contains(errs, "holder") {
		t.Errorf("run --name holder while it runs: code %d stderr %q, want 125", code, errs)
	}
	if pid := c.attachedPID(c.project, "default", "holder"); pid != holder {
		t.Errorf("holder's attachment pid %d → %d", holder, pid)
	}
	_ = holderCmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err == nil {
		t.Errorf("holder run: exit 0 after SIGTERM, want 143")
	}
	c.must("down", "--timeout", "0s")
}

// TestKilledRunIsCleanedUp: `nucleus run` killed with SIGKILL runs no
// cleanup; its sandbox, its private project (run -p) and the project
// network it created (--network without a supervisor) are removed by the
// next run, which leaves the leak checks empty.
func TestKilledRunIsCleanedUp(t *testing.T) {
	c := newCLI(t)
	port := testutil.FreePort(t)
	pub, pubDone := c.startRun("--name", "killpub", "-p", "127.0.0.1:"+strconv.Itoa(port)+":8080",
		"-v", "./site:/srv:ro", "--", "/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv")
	onNet, netDone := c.startRun("--name", "killnet", "--network", "default", "--", "/bin/busybox", "sleep", "60")
	testutil.WaitFor(t, "both runs to be up", 15*time.Second, func() bool {
		body, _ := httpGet("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		return body != "" && c.attachedPID(c.project, "default", "killnet") != 0
	})
	for _, p := range []*exec.Cmd{pub, onNet} {
		if err := p.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	<-pubDone
	<-netDone
	// Left behind: the sandboxes' cgroups and state, the networks.
	rt, _ := runtime.LeakCheck(c.rootdir())
	nl, _ := network.LeakCheck(c.rootdir())
	if len(rt) == 0 || len(nl) == 0 {
		t.Fatalf("after SIGKILL: runtime leaks %v, network leaks %v; want both non-empty (else this test proves nothing)", rt, nl)
	}
	out, errs, code := c.run("run", "--", "/bin/true")
	if code != 0 || errs != "" {
		t.Fatalf("next run: code %d stdout %q stderr %q", code, out, errs)
	}
	c.assertNoLeaks()
	if left, _ := os.ReadDir(filepath.Join(c.rootdir().Run, "runs")); len(left) > 0 {
		t.Errorf("run records left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(c.rootdir().Run, "network", c.project, "default.json")); !os.IsNotExist(err) {
		t.Errorf("the killed run's network record is still there: %v", err)
	}
}
