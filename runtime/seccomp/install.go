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
	return p.install(unix.SECCOMP_FILTER_FLAG_TSYNC)
}

// InstallThread loads the filter into the calling OS thread only, with
// no_new_privs set on that thread: for a sandbox init whose workload is
// forked from one dedicated, restricted thread while its other threads keep
// what the init needs. The caller must hold runtime.LockOSThread and never
// unlock it (the Go runtime then retires the thread when its goroutine
// ends instead of handing the filtered thread to other goroutines).
// Processes forked from the thread inherit the filter.
func (p *Program) InstallThread() error {
	return p.install(0)
}

func (p *Program) install(flags uintptr) error {
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
		flags, uintptr(unsafe.Pointer(&prog)))
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
