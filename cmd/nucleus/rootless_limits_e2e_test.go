package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
)

// TestRootlessLimitsNotEnforced: an ordinary user on a host that delegates
// it no cgroup (this one: hybrid) is told once, in one line, which limits
// go unenforced and why, by validate and by run; the run's sandbox, which
// has no cgroup, still takes every process of a forking workload along
// (a double-forked daemon ignoring SIGTERM included) when it ends.
func TestRootlessLimitsNotEnforced(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	why := fmt.Sprintf("not enforced: no cgroup delegated to uid %d", u.UID)

	y := "name: rl\nservices:\n  web:\n    command: [/bin/busybox, sleep, \"60\"]\n    resources: {memory: 64M, cpus: 0.5, pids: 20}\n"
	if err := os.WriteFile(filepath.Join(e.Home, "nucleus.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.Run(t, nucleusBin, "validate")
	if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); r.Code != 0 || len(lines) != 1 ||
		!strings.HasPrefix(lines[0], "nucleus: memory, cpus, pids limits of web are "+why) {
		t.Errorf("validate: want exit 0 and one line naming memory, cpus, pids of web %s...: %s", why, r)
	}

	mark := testutil.SleepMark()
	name := "rl-" + testutil.RandHex(3)
	cmd := e.Command(nucleusBin, "run", "--name", name, "--memory", "32M", "--pids", "20", "--",
		"/bin/busybox", "sh", "-c", `(trap '' TERM; setsid /bin/busybox sh -c "trap '' TERM; exec /bin/busybox sleep `+mark+`" &)
/bin/busybox sleep `+mark+` &
echo ready; /bin/busybox sleep 2; exit 3`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb testutil.SyncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		_ = cmd.Wait()
		t.Fatalf("first line %q, want ready; stderr %s", line, errb.String())
	}
	testutil.WaitFor(t, "the daemon and the sleep of the workload", 5*time.Second, func() bool {
		return len(testutil.ProcsWithArg(mark)) == 2
	})
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Errorf("run: exit %d (%v), want 3; stderr %s", code, err, errb.String())
	}
	if got, want := errb.String(), "nucleus: memory, pids limits of "+name+" are "+why; strings.Count(got, "not enforced") != 1 || !strings.HasPrefix(got, want) {
		t.Errorf("run stderr %q; want one line starting %q", got, want)
	}
	testutil.WaitFor(t, "no process of the workload left", 5*time.Second, func() bool {
		return len(testutil.ProcsWithArg(mark)) == 0
	})
}
