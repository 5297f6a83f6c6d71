package landlock

import (
	"fmt"
	"runtime"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Apply confines the whole calling process (every thread, and everything it
// executes afterwards) to rules, with the best ABI the kernel offers, and
// returns that ABI. It sets no_new_privs, as Landlock requires.
//
// Before ABI 8, Landlock restricts only the calling thread; go-landlock
// then runs the syscalls on every OS thread through libpsx (signals to
// each thread; with cgo, pthread_create is wrapped to know them all). From
// ABI 8 on it uses LANDLOCK_RESTRICT_SELF_TSYNC. The sandbox init may
// instead use ApplyThread right before exec, which needs neither.
//
// A Landlock that cannot be applied (kernel without Landlock, a rule that
// cannot be added) is an error: the caller asked for confinement.
func Apply(rules []Rule) (abi int, err error) {
	abi, lr, err := prepare(rules)
	if err != nil {
		return 0, err
	}
	if err := config(abi).RestrictPaths(lr...); err != nil {
		return 0, fmt.Errorf("apply landlock (ABI %d): %w", abi, err)
	}
	return abi, nil
}

// ApplyThread confines only the calling OS thread, for the single-threaded
// path of the sandbox init: the caller must hold runtime.LockOSThread,
// never unlock it (the Go runtime then discards the thread instead of
// reusing it unconfined), and exec the workload from this same goroutine
// soon after; execve keeps only the calling thread, so the workload is
// fully confined. It sets no_new_privs on the thread.
func ApplyThread(rules []Rule) (abi int, err error) {
	abi, lr, err := prepare(rules)
	if err != nil {
		return 0, err
	}
	fd, flags, err := config(abi).NewRulesetFD(lr...)
	if err != nil {
		return 0, fmt.Errorf("apply landlock (ABI %d): create ruleset: %w", abi, err)
	}
	if fd < 0 {
		return 0, fmt.Errorf("apply landlock (ABI %d): empty ruleset", abi)
	}
	defer unix.Close(fd)
	runtime.LockOSThread() // balanced below; the caller's own lock keeps the thread
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("apply landlock: set no_new_privs: %w", err)
	}
	if err := ll.LandlockRestrictSelf(fd, flags); err != nil {
		return 0, fmt.Errorf("apply landlock (ABI %d): landlock_restrict_self: %w", abi, err)
	}
	return abi, nil
}

// prepare is what Apply and ApplyThread do first: the best ABI the kernel
// offers and rules compiled for it.
func prepare(rules []Rule) (int, []landlock.Rule, error) {
	abi := effectiveABI()
	if abi == 0 {
		return 0, nil, fmt.Errorf("apply landlock: the kernel offers no Landlock (not compiled in or not enabled in the lsm= boot parameter)")
	}
	lr, err := compile(rules, abi)
	if err != nil {
		return 0, nil, fmt.Errorf("apply landlock: %w", err)
	}
	return abi, lr, nil
}
