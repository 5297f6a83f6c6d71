package runtime

import "golang.org/x/sys/unix"

// callerTimerSlack is the timer slack (ns) of this thread, which the
// sandbox's processes get (sbinit.Config.TimerSlack); 0 if unknown.
func callerTimerSlack() uint64 {
	n, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || n <= 0 {
		return 0
	}
	return uint64(n)
}
