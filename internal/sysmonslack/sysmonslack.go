// Package sysmonslack gives the Go runtime's sysmon thread a large timer
// slack, so that its 20 us sleeps stop waking a busy process's CPU.
package sysmonslack

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// Slack is the timer slack (ns) of the Go runtime's sysmon thread.
const Slack = 2000000

// Quiet gives the runtime's sysmon thread a timer slack of Slack.
// Sysmon sleeps 20 us at a time while the process is busy, waking every
// ~90 us with the default 50 us slack on the CPU the main thread needs
// (perf sched timehist). Its duties keep enough precision at 2 ms:
// preempting a goroutine that ran 10 ms, and taking a P from a thread
// blocked in a syscall, which a second P (GOMAXPROCS=2) makes rare on a
// sandbox's start path. Only sysmon: with the whole sandbox init at 2 ms
// the Go scheduler's own short sleeps (runqgrab's usleep(3)) stretched
// the workload's start by 0.4 ms (bench/results/issue15-runtime.md).
// Threads that sysmon starts inherit its slack, and so does what they
// fork: a caller that forks long-lived processes sets the slack they get
// itself (runtime: the spawn child and sbinit's spawner threads) or does
// not call Quiet (cmd/nucleus: sysmonQuietable). Sysmon is the first
// thread the runtime starts (before any package init), so it has the
// lowest thread id after the process's own; if ids wrapped, another
// thread gets the slack, which costs only that thread's precision.
func Quiet() {
	// Raw calls: os.Open's poller registration would add 5 syscalls.
	// Ids as /proc (still the host's here) sees them, not getpid()'s.
	var buf [4096]byte
	n, err := unix.Readlink("/proc/self", buf[:32])
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(string(buf[:n]))
	if err != nil {
		return
	}
	fd, err := unix.Open("/proc/self/task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	var names []string
	for {
		n, err := unix.ReadDirent(fd, buf[:])
		if err != nil || n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	unix.Close(fd)
	best := 0
	for _, n := range names {
		t, err := strconv.Atoi(n)
		if err == nil && t > pid && (best == 0 || t < best) {
			best = t
		}
	}
	if best == 0 {
		return
	}
	// /proc/TID names a thread too; only the process directory has the
	// file. Writing another thread's needs CAP_SYS_NICE (the sandbox init
	// has it in its user namespace); without it this does nothing.
	fd, err = unix.Open("/proc/"+strconv.Itoa(best)+"/timerslack_ns", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	_, _ = unix.Write(fd, []byte(strconv.Itoa(Slack)))
	unix.Close(fd)
}
