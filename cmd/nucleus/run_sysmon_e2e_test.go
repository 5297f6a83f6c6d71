package main

import (
	"bufio"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/sysmonslack"
	"nucleus/internal/testutil"
)

// TestRunQuietsSysmonOnlyWithoutNetwork: `run` as root gives its sysmon
// thread (and so the threads sysmon starts) a 2 ms timer slack, never its
// main thread, when it starts no other long-lived process; never with -p
// (its private network may start helpers from a thread sysmon made); and
// the workload keeps the CLI's own slack either way.
func TestRunQuietsSysmonOnlyWithoutNetwork(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		name  string
		args  []string
		quiet bool
	}{
		{"plain", nil, true},
		{"publish", []string{"-p", "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t)) + ":8080"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--root", c.root, "run"}, tc.args...)
			args = append(args, "--", "/bin/busybox", "sh", "-c", "read s </proc/self/timerslack_ns; echo $s; exec sleep 30")
			cmd := exec.Command(nucleusBin, args...)
			cmd.Dir = c.dir
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			startWithSlack(t, cmd, 123457)
			defer func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				_ = cmd.Wait()
			}()
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("the workload's slack: %v", err)
			}
			if got := strings.TrimSpace(line); got != "123457" {
				t.Errorf("workload: /proc/self/timerslack_ns = %s, want nucleus's 123457", got)
			}
			quiet := func() int { return threadsWithSlack(t, cmd.Process.Pid, sysmonslack.Slack) }
			if tc.quiet {
				// Sysmon, and any thread sysmon starts after (retaking a P
				// from a blocked syscall: seen on a slow machine), which
				// inherits its slack; never the main thread.
				testutil.WaitFor(t, "nucleus run's sysmon at 2 ms", 5*time.Second, func() bool { return quiet() >= 1 })
				b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/timerslack_ns")
				if err != nil || strings.TrimSpace(string(b)) != "123457" {
					t.Errorf("nucleus's main thread: timerslack_ns %q (%v), want the 123457 it started with", b, err)
				}
			} else {
				// Quiet would run at the command's start, long before
				// the workload's output.
				time.Sleep(200 * time.Millisecond)
				if n := quiet(); n != 0 {
					t.Errorf("run %v: %d threads at sysmon's 2 ms slack, want none", tc.args, n)
				}
			}
		})
	}
	c.assertNoLeaks()
}

// startWithSlack starts cmd from a thread whose timer slack is ns, so that
// the process starts with it.
func startWithSlack(t *testing.T, cmd *exec.Cmd, ns int) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(ns), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// threadsWithSlack counts the threads of pid whose timer slack is ns.
func threadsWithSlack(t *testing.T, pid, ns int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		// Only /proc/TID has the file, not /proc/PID/task/TID.
		b, err := os.ReadFile("/proc/" + e.Name() + "/timerslack_ns")
		if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(ns) {
			n++
		}
	}
	return n
}
