package runtime

import (
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// startSlack is the process's timer slack (ns) at start, 0 if unknown.
// Package inits run on the main thread: its slack is the one the process
// was given. Any other thread may have been started by sysmon, whose
// slack the CLI may have raised (sysmonslack), so the current thread's
// is not the caller's.
var startSlack = threadTimerSlack()

// callerTimerSlack is the timer slack (ns) the sandbox's processes get
// (sbinit.Config.TimerSlack; the spawn child sets it before exec): the
// process's at start, whatever thread asks; 0 if unknown.
func callerTimerSlack() uint64 { return startSlack }

// threadTimerSlack is the calling thread's timer slack, 0 if unknown.
func threadTimerSlack() uint64 {
	n, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || n <= 0 {
		return 0
	}
	return uint64(n)
}

// forkWithCallerSlack runs start, which forks on the calling thread (as
// os/exec does), with that thread's timer slack set to the caller's for
// the fork: a child inherits its forking thread's slack, and this thread
// may have sysmon's (a thread sysmon started, sysmonslack) or whatever its
// goroutine's earlier work left. The thread's own slack is restored after.
func forkWithCallerSlack(start func() error) error {
	want := callerTimerSlack()
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	if cur := threadTimerSlack(); want != 0 && cur != 0 && cur != want {
		if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(want), 0, 0, 0); err == nil {
			defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(cur), 0, 0, 0)
		}
	}
	return start()
}
