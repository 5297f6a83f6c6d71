package runtime

import (
	"bytes"
	"context"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

// The init's sysmon thread runs with a large timer slack (sbinit's
// quietSysmon); the sandbox's processes must still get their caller's:
// the workload, an exec'd process and one exec'd as another user.
func TestProcessesKeepCallersTimerSlack(t *testing.T) {
	root := newRoot(t)
	// Slack is per thread: Create clones the init from this one.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	const want = "123457"
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, 123457, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)

	var out testutil.SyncBuffer
	svc := service("/bin/busybox", "sh", "-c", "read s </proc/self/timerslack_ns; echo $s; exec sleep 100")
	sb := startSandbox(t, Config{ID: "slack", Root: root, Service: svc, Stdout: &out, Stderr: os.Stderr})
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
}
