package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/sysmonslack"
	"nucleus/internal/testutil"
)

// The init's sysmon thread, and the CLI's in `nucleus run`, run with a
// large timer slack (sysmonslack), and threads sysmon starts inherit it.
// The sandbox's processes must still get the caller's, the process's at
// start: the init, the workload, an exec'd process and one exec'd as
// another user, even when Create runs on such a thread.
func TestProcessesKeepCallersTimerSlack(t *testing.T) {
	onSysmonBornThread(t, func(t *testing.T) {
		root := newRoot(t)
		// The leader's (main thread's) slack: /proc/PID names it.
		b, err := os.ReadFile("/proc/self/timerslack_ns")
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSpace(string(b))
		if want == strconv.Itoa(sysmonslack.Slack) || want != strconv.FormatUint(startSlack, 10) {
			t.Fatalf("main thread's timer slack %s: want the process's at start, %d, not sysmon's", want, startSlack)
		}

		var out testutil.SyncBuffer
		svc := service("/bin/busybox", "sh", "-c", "read s </proc/self/timerslack_ns; echo $s; exec sleep 100")
		sb := startSandbox(t, Config{ID: "slack", Root: root, Service: svc, Stdout: &out, Stderr: os.Stderr})
		b, err = os.ReadFile(fmt.Sprintf("/proc/%d/timerslack_ns", sb.PID()))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("sandbox init: /proc/%d/timerslack_ns = %s, want the caller's %s", sb.PID(), got, want)
		}
		ctx := context.Background()
		for _, user := range []string{"", "nobody"} {
			var eout, eerr bytes.Buffer
			st, err := sb.Exec(ctx, ExecConfig{Args: []string{"/bin/busybox", "sh", "-c", "read s </proc/self/timerslack_ns; echo $s"}, User: user, Stdout: &eout, Stderr: &eerr})
			if err != nil || st.Code != 0 {
				t.Fatalf("exec as %q: %+v %v %s", user, st, err, eerr.String())
			}
			if got := strings.TrimSpace(eout.String()); got != want {
				t.Errorf("process exec'd as user %q: /proc/self/timerslack_ns = %s, want the caller's %s", user, got, want)
			}
		}
		testutil.WaitFor(t, "the workload's output", 10*time.Second, func() bool { return strings.Contains(out.String(), "\n") })
		if got := strings.TrimSpace(out.String()); got != want {
			t.Errorf("workload: /proc/self/timerslack_ns = %q, want the caller's %s", got, want)
		}
	})
}

// onSysmonBornThread runs f on a thread other than the main one whose
// timer slack is sysmon's quieted one: what Create sees when the thread it
// runs on was started by a quieted sysmon (every run of the test, not by
// chance). The thread's slack is restored after.
func onSysmonBornThread(t *testing.T, f func(t *testing.T)) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// The main thread is held by this goroutine now, so the
		// subtest's goroutine runs on another.
		t.Run("off-main-thread", func(t *testing.T) { onSysmonBornThread(t, f) })
		return
	}
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, sysmonslack.Slack, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	f(t)
}

// TestForkWithCallerSlack: a child forked on a thread with sysmon's slack
// (what os/exec does for the v2 init, startInitExec) gets that slack, and
// forkWithCallerSlack gives it the process's start slack instead; the
// thread keeps its own. Needs no root: the v2 path itself runs in the
// cgroup v2 VM (TestProcessesKeepCallersTimerSlack).
func TestForkWithCallerSlack(t *testing.T) {
	onSysmonBornThread(t, func(t *testing.T) {
		childSlack := func(fork func(start func() error) error) string {
			t.Helper()
			var out bytes.Buffer
			cmd := exec.Command("/bin/sh", "-c", "read s </proc/self/timerslack_ns; echo $s")
			cmd.Stdout, cmd.Stderr = &out, os.Stderr
			if err := fork(cmd.Start); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(out.String())
		}
		plain := func(start func() error) error { return start() }
		if got := childSlack(plain); got != strconv.Itoa(sysmonslack.Slack) {
			t.Fatalf("child forked plainly on the thread: slack %s, want the thread's %d (the setup is wrong)", got, sysmonslack.Slack)
		}
		if got, want := childSlack(forkWithCallerSlack), strconv.FormatUint(startSlack, 10); got != want {
			t.Errorf("child forked with forkWithCallerSlack: slack %s, want the process's start slack %s", got, want)
		}
		if got := threadTimerSlack(); got != sysmonslack.Slack {
			t.Errorf("the forking thread's slack after: %d, want its own %d back", got, sysmonslack.Slack)
		}
	})
}
