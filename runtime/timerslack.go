package runtime

import "golang.org/x/sys/unix"

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
