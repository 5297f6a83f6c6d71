package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile/api"
)

// killUpServices is the size of the project TestCLISupervisorKilledDuringUp
// kills the supervisor of.
const killUpServices = 10

// TestCLISupervisorKilledDuringUp (issue 11, defect 7): SIGKILL of the
// detached supervisor at any moment of `up` leaves nothing the next `up`
// trips over, and `down` leaves nothing at all. A 10-service project on
// one bridge network with a configured subnet; the supervisor is killed at 20 delays spread over
// its first 600 ms (network creation, sandboxes being created, attached,
// started and recorded), then `up -d --wait` must adopt or clean whatever
// was half-made, and `down` must remove everything the root created. Every
// fourth time `down` runs first, without a supervisor, straight after the kill.
func TestCLISupervisorKilledDuringUp(t *testing.T) {
	c := newCLI(t)
	var y strings.Builder
	// A configured subnet: a bridge left without its record made the next
	// up refuse it as "already used on this host".
	fmt.Fprintf(&y, "name: %s\nnetworks:\n  net: {subnet: 10.77.%d.0/24}\nservices:\n", c.project, os.Getpid()%250)
	for i := 1; i <= killUpServices; i++ {
		fmt.Fprintf(&y, "  s%d:\n    command: [/bin/busybox, sleep, \"1000\"]\n    networks: [net]\n    stop_grace_period: 0s\n", i)
	}
	c.writeYAML(y.String())
	const runs = 20
	defer func() { c.t = t }() // the clean-up of newCLI reports to the parent
	for i := range runs {
		delay := time.Duration(i) * 600 * time.Millisecond / (runs - 1)
		if !t.Run(fmt.Sprintf("kill_after_%dms", delay.Milliseconds()), func(t *testing.T) {
			c.t = t
			killed := c.killSupervisorDuringUp(delay)
			if i%4 == 3 {
				// down without a supervisor, from what the killed one left.
				c.must("down", "--timeout", "0s")
				c.assertNoLeaks()
			}
			out, errs, code := c.run("up", "-d", "--wait", "--wait-timeout", "30s")
			if code != 0 {
				log, _ := os.ReadFile(api.LogPath(c.rootdir(), c.project))
				t.Fatalf("up -d --wait after the supervisor (pid %d) was killed %s into up: exit code %d\nstdout:\n%s\nstderr:\n%s\nsupervisor log:\n%s\nkilled supervisor's threads:\n%s",
					killed, delay, code, out, errs, log, threads(killed))
			}
			if ps := c.ps(); len(ps) != killUpServices {
				t.Errorf("ps after up --wait shows %d services, want %d: %+v", len(ps), killUpServices, ps)
			}
			c.must("down", "--timeout", "0s")
			c.assertNoLeaks()
			if p := filepath.Join(c.rootdir().Run, "projects", c.project); testutil.FileExists(p) {
				t.Errorf("project state %s left after down", p)
			}
		}) {
			break // one failure tells the story; the next would start from its leftovers
		}
	}
}

// killSupervisorDuringUp starts `up -d` and SIGKILLs the detached
// supervisor it forks delay after the fork. The supervisor is found as the
// child of `up -d` (probing its lock would compete with it for the lock).
func (c *cli) killSupervisorDuringUp(delay time.Duration) int {
	c.t.Helper()
	cmd := exec.Command(nucleusBin, "--root", c.root, "up", "-d", "--wait-timeout", "30s")
	cmd.Dir = c.dir
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	pid := 0
	for pid == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			c.t.Fatalf("no supervisor 10s after up -d started")
		}
		pid = childOf(cmd.Process.Pid)
		time.Sleep(time.Millisecond)
	}
	time.Sleep(delay)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		c.t.Fatalf("kill supervisor %d: %v", pid, err)
	}
	// The killed supervisor keeps its lock until the kernel has released
	// its files (its exit waits in inotify_release first), but it counts as
	// gone at once: nobody would answer there.
	killed := time.Now()
	for {
		if holder, running := api.Running(c.rootdir(), c.project); !running || holder != pid {
			break
		}
		if time.Since(killed) > time.Second {
			c.t.Fatalf("supervisor (pid %d) still counts as running 1s after SIGKILL; its threads:\n%s", pid, threads(pid))
		}
		time.Sleep(time.Millisecond)
	}
	// It fails: its supervisor went away. The next command runs at once,
	// as a user's would: the killed supervisor may still be ending (its
	// main thread a zombie, other threads still in the kernel, its lock
	// held), which up waits out.
	cmd.Wait()
	waited = true
	return pid
}

// threads describes the threads of pid: state, kernel wait channel and stack.
func threads(pid int) string {
	var b strings.Builder
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, t := range tasks {
		stat, _ := os.ReadFile(t + "/stat")
		wchan, _ := os.ReadFile(t + "/wchan")
		stack, _ := os.ReadFile(t + "/stack")
		fmt.Fprintf(&b, "%s wchan %s\n%s\n", strings.TrimSpace(string(stat)), wchan, stack)
	}
	return b.String()
}

// childOf returns a child process of pid, or 0.
func childOf(pid int) int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// Fields after the command name: state, ppid, ...
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return child
		}
	}
	return 0
}
