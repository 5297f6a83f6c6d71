package seccomp

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads the filter into the calling process: every thread of it
// (SECCOMP_FILTER_FLAG_TSYNC), so a Go program cannot run unfiltered code on
// another OS thread. It first sets no_new_privs, which the kernel requires for
// an unprivileged filter and which nucleus sets in every sandbox anyway; TSYNC
// propagates it to all threads.
//
// It uses the raw seccomp(2) syscall on prebuilt BPF: no libseccomp work
// happens here, so the sandbox init stays fast. Install is irreversible.
func (p *Program) Install() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("install seccomp: set no_new_privs: %w", err)
	}
	if len(p.bpf) == 0 {
		return nil
	}
	if len(p.bpf)%sockFilterSize != 0 || len(p.bpf)/sockFilterSize > maxInstructions {
		return fmt.Errorf("install seccomp: malformed BPF of %d bytes", len(p.bpf))
	}
	prog := unix.SockFprog{
		Len:    uint16(len(p.bpf) / sockFilterSize),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&p.bpf[0])),
	}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(p.bpf)
	if errno != 0 {
		return fmt.Errorf("install seccomp filter (%s, %d instructions): %w", p.mode, prog.Len, errno)
	}
	if r != 0 {
		// With TSYNC a positive result is the id of a thread that could not
		// be synchronised (it already has a diverging filter).
		return fmt.Errorf("install seccomp filter (%s): thread %d could not be synchronised", p.mode, r)
	}
	return nil
}
