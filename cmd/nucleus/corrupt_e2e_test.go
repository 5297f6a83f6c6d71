package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/procstat"
	"nucleus/internal/testutil"
	"nucleus/reconcile/api"
	"nucleus/runtime"
)

// fiveYAML is a project of five replicas of one service.
const fiveYAML = `name: NAME
services:
  a:
    command: ["/bin/busybox", "sleep", "1000"]
    replicas: 5
    stop_grace_period: 0s
`

// replicaPids maps each replica ("a-1") ps lists to its state and PID.
func (c *cli) replicaPids() map[string]psRow {
	c.t.Helper()
	out := c.must("ps", "--json", "-a")
	var rows []struct {
		psRow
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		c.t.Fatalf("ps --json: %v\n%s", err, out)
	}
	m := map[string]psRow{}
	for _, r := range rows {
		m[r.Name] = r.psRow
	}
	return m
}

// upFive starts the five replicas and returns their PIDs.
func (c *cli) upFive() map[string]int {
	c.t.Helper()
	c.writeYAML(strings.ReplaceAll(fiveYAML, "NAME", c.project))
	c.must("up", "-d", "--wait")
	pids := map[string]int{}
	for name, r := range c.replicaPids() {
		if r.State != "running" || !testutil.Alive(r.PID) {
			c.t.Fatalf("after up: %s %+v", name, r)
		}
		pids[name] = r.PID
	}
	if len(pids) != 5 {
		c.t.Fatalf("after up: %d replicas %v, want 5", len(pids), pids)
	}
	return pids
}

// withAndWithoutSupervisor runs check on five fresh replicas (upFive)
// twice: with their supervisor running, then after it was killed.
func (c *cli) withAndWithoutSupervisor(check func(killed bool, pids map[string]int)) {
	c.t.Helper()
	for _, kill := range []bool{false, true} {
		pids := c.upFive()
		if kill {
			c.killSupervisor()
		}
		check(kill, pids)
	}
}

func (c *cli) recordPath(name string) string {
	return filepath.Join(c.rootdir().Run, "projects", c.project, "sandboxes", name+".json")
}

// downLeavesNothing runs down, which must succeed, and checks that none of
// pids runs and nothing of the project is left.
func (c *cli) downLeavesNothing(pids map[string]int) {
	c.t.Helper()
	out, errOut, code := c.run("down")
	if code != 0 || !strings.Contains(errOut, "is down") {
		c.t.Errorf("down: exit code %d, stdout %q, stderr %q; want 0 and the project down", code, out, errOut)
	}
	for name, pid := range pids {
		if testutil.Alive(pid) {
			c.t.Errorf("%s (pid %d) still runs after down", name, pid)
		}
	}
	c.assertNoLeaks()
}

// killSupervisor SIGKILLs the project's supervisor: its sandboxes keep running.
func (c *cli) killSupervisor() {
	c.t.Helper()
	if err := syscall.Kill(c.supervisorPID(), syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	testutil.WaitFor(c.t, "supervisor gone", 5*time.Second, func() bool { return c.supervisorPID() == 0 })
}

// TestCLICorruptRecordDoesNotBlock (issue 11, defect 9): an empty and a
// garbled replica record do not block the project. ps reports them (file
// and what is wrong) and lists the others; up goes on; down stops all
// five and leaves nothing. Once with the supervisor running (it records
// what it runs again), once after it was killed (the sandbox no record
// names is found by the runtime's records).
func TestCLICorruptRecordDoesNotBlock(t *testing.T) {
	c := newCLI(t)
	c.withAndWithoutSupervisor(func(killSupervisor bool, pids map[string]int) {
		if err := os.WriteFile(c.recordPath("a-1"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.recordPath("a-2"), []byte(`{"project": "`+c.project+`", "serv`), 0o600); err != nil {
			t.Fatal(err)
		}
		out := c.must("ps")
		for _, want := range []string{
			"a-1: state unknown: record set aside as " + c.recordPath("a-1") + ".corrupt: the file is empty",
			"a-2: state unknown: record set aside as " + c.recordPath("a-2") + ".corrupt: not a sandbox record: unexpected end of JSON input",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("ps (supervisor killed: %v) does not say %q:\n%s", killSupervisor, want, out)
			}
		}
		rows := c.replicaPids()
		for _, n := range []string{"a-3", "a-4", "a-5"} {
			if rows[n].PID != pids[n] || rows[n].State != "running" {
				t.Errorf("ps: %s %+v, want running with pid %d", n, rows[n], pids[n])
			}
		}
		c.must("up", "-d", "--wait")
		rows = c.replicaPids()
		if len(rows) != 5 {
			t.Errorf("after up: %+v, want five replicas and no corrupt row", rows)
		}
		all := map[string]int{}
		for n, pid := range pids {
			if rows[n].State != "running" || !testutil.Alive(rows[n].PID) {
				t.Errorf("after up (supervisor killed: %v): %s %+v, want running", killSupervisor, n, rows[n])
			}
			all[n], all["new "+n] = pid, rows[n].PID // a replaced replica's new PID must go too
		}
		c.downLeavesNothing(all)
	})
}

// TestCLIDownStopsUnrecordedSandboxes (issue 11, defect 9): with two
// replica records deleted while the replicas run, down still stops and
// removes those two (found by the runtime's own records), with the
// supervisor running and after it was killed.
func TestCLIDownStopsUnrecordedSandboxes(t *testing.T) {
	c := newCLI(t)
	c.withAndWithoutSupervisor(func(_ bool, pids map[string]int) {
		for _, n := range []string{"a-2", "a-4"} {
			if err := os.Remove(c.recordPath(n)); err != nil {
				t.Fatal(err)
			}
		}
		c.downLeavesNothing(pids)
	})
}

// TestCLIDownFailsWithSandboxLeft (issue 11, defect 9): when a sandbox of
// the project cannot be removed (here: a runtime record of the project
// whose init lives but has no cgroup to adopt), down exits non-zero naming
// it, and the supervisor does not log the project as taken down. Once the
// sandbox can go, down succeeds.
func TestCLIDownFailsWithSandboxLeft(t *testing.T) {
	c := newCLI(t)
	c.upFive()
	sleep := exec.Command("/bin/busybox", "sleep", "600")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	start, err := procstat.StartTime(sleep.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	id := "stuck-" + c.project
	dir := filepath.Join(c.rootdir().Run, "sandboxes", id)
	rec, _ := json.Marshal(runtime.Record{ID: id, Project: c.project, PID: sleep.Process.Pid, StartTime: start, StateDir: dir})
	if err := os.MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "record.json"), rec, 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := api.LogPath(c.rootdir(), c.project)
	out, errOut, code := c.run("down")
	if code == 0 || !strings.Contains(errOut, id) || strings.Contains(errOut, "is down") {
		t.Errorf("down with %s left: exit code %d\nstdout: %s\nstderr: %s\nwant non-zero, naming it, not saying the project is down", id, code, out, errOut)
	}
	t.Logf("down with a sandbox left: exit code %d: %s", code, errOut)
	testutil.WaitFor(t, "supervisor gone", 10*time.Second, func() bool { return c.supervisorPID() == 0 })
	if b, err := os.ReadFile(logPath); err != nil || strings.Contains(string(b), "project taken down") {
		t.Errorf("supervisor log (%v) after a failed down says it was taken down:\n%s", err, b)
	}
	_ = sleep.Process.Kill()
	_ = sleep.Wait()
	c.downLeavesNothing(nil)
}

// TestCLICorruptProjectRecord (issue 11, defect 9): a garbled project
// record is set aside too: ps, up (which leaves the replicas running and
// writes the record again) and down go on, and nothing is left.
func TestCLICorruptProjectRecord(t *testing.T) {
	c := newCLI(t)
	c.withAndWithoutSupervisor(func(killSupervisor bool, pids map[string]int) {
		path := filepath.Join(c.rootdir().Run, "projects", c.project, "project.json")
		if err := os.WriteFile(path, []byte(`{"name": "`), 0o600); err != nil {
			t.Fatal(err)
		}
		rows := c.replicaPids()
		c.must("up", "-d", "--wait")
		after := c.replicaPids()
		all := map[string]int{}
		for n, pid := range pids {
			if rows[n].PID != pid || after[n].State != "running" || after[n].PID != pid {
				t.Errorf("supervisor killed %v: %s: ps %+v, after up %+v; want it running on, pid %d", killSupervisor, n, rows[n], after[n], pid)
			}
			all[n], all["new "+n] = pid, after[n].PID
		}
		if !testutil.FileExists(path) {
			t.Errorf("up did not write the project record again")
		}
		c.downLeavesNothing(all)
	})
}
