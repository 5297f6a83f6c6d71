package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/leaktest"
	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/reconcile/daemon"
)

// TestDaemonCommand runs `nucleus daemon` as a process: it brings the
// tree's project up, answers SIGHUP, leaves the services running on
// SIGTERM (status still works and says so), a second daemon adopts the
// same PIDs, and a removed directory is brought down.
func TestDaemonCommand(t *testing.T) {
	testutil.RequireRoot(t)
	root, tree := t.TempDir(), t.TempDir()
	project := fmt.Sprintf("dcmd%d", os.Getpid()%100000)
	dir := filepath.Join(tree, "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	y := "name: " + project + "\nservices:\n  web:\n    command: [\"/bin/sleep\", \"1000\"]\n    stop_signal: SIGKILL\n"
	testutil.WriteFile(t, filepath.Join(dir, "nucleus.yaml"), y)
	c := &cli{t: t, root: root} // nucleus with this root, run from the test's directory
	nucleus := func(args ...string) (string, int) {
		t.Helper()
		out, errOut, code := c.run(args...)
		if code != 0 {
			return out + errOut, code
		}
		return out, code // stdout only: JSON
	}
	status := func() (daemon.Report, daemon.ProjectStatus) {
		t.Helper()
		out, code := nucleus("status", "--json")
		var rep daemon.Report
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
			t.Fatalf("status --json: exit %d\n%s", code, out)
		}
		for _, p := range rep.Projects {
			if p.Name == project {
				return rep, p
			}
		}
		return rep, daemon.ProjectStatus{}
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		testutil.WaitFor(t, what, 20*time.Second, ok)
	}
	var logs []*bytes.Buffer
	start := func() *exec.Cmd {
		t.Helper()
		var log bytes.Buffer
		logs = append(logs, &log)
		cmd := exec.Command(nucleusBin, "--root", root, "daemon", "--watch", tree)
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	stop := func(cmd *exec.Cmd) {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon exit after SIGTERM: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatal("daemon did not stop within 10s of SIGTERM")
		}
	}
	t.Cleanup(func() {
		nucleus("-p", project, "down", "--timeout", "0s")
		r := rootdir.Resolve(root)
		leaktest.Check(t, r)
		if t.Failed() {
			for i, l := range logs {
				t.Logf("daemon %d log:\n%s", i+1, l)
			}
		}
	})

	if out, code := nucleus("daemon"); code != 2 || !strings.Contains(out, "--watch") {
		t.Errorf("daemon without --watch: exit %d %q, want 2 naming --watch", code, out)
	}

	d1 := start()
	var pid int
	wait("the project Ready", func() bool {
		_, p := status()
		return p.Condition == daemon.Ready && p.Running == 1
	})
	out, code := nucleus("-p", project, "ps", "--json")
	var rows []struct {
		Service string `json:"service"`
		PID     int    `json:"pid"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].PID == 0 {
		t.Fatalf("ps --json of a daemon-managed project: exit %d\n%s", code, out)
	}
	pid = rows[0].PID

	if err := d1.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	wait("the SIGHUP to be logged", func() bool { return strings.Contains(logs[0].String(), "SIGHUP") })

	stop(d1)
	rep, p := status()
	if rep.Daemon == nil || rep.Daemon.Running || p.Running != 1 {
		t.Fatalf("status after SIGTERM: daemon %+v, project %+v; want the daemon stopped and web running", rep.Daemon, p)
	}
	if out, _ := nucleus("status"); !strings.Contains(out, "daemon: not running") || !strings.Contains(out, project+"  Ready") {
		t.Errorf("status text after SIGTERM:\n%s", out)
	}

	d2 := start()
	defer func() {
		if d2.ProcessState == nil {
			stop(d2)
		}
	}()
	wait("the second daemon to run", func() bool { rep, _ := status(); return rep.Daemon != nil && rep.Daemon.Running })
	wait("Ready under the second daemon", func() bool { _, p := status(); return p.Condition == daemon.Ready })
	out, _ = nucleus("-p", project, "ps", "--json")
	if !strings.Contains(out, fmt.Sprintf(`"pid": %d`, pid)) {
		t.Errorf("the second daemon did not adopt pid %d:\n%s", pid, out)
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	// An empty tree is guarded: add a second project first so the removal
	// is a real one.
	other := filepath.Join(tree, "other")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(other, "nucleus.yaml"), "name: "+project+"o\nservices: {}\n")
	wait("the removed project to be down", func() bool { _, p := status(); return p.Name == "" })
	if testutil.Alive(pid) {
		t.Errorf("pid %d still runs after its project directory was removed", pid)
	}
	os.RemoveAll(other)
	stop(d2)
	nucleus("-p", project+"o", "down")
}
