// Package bpf installs a compiled seccomp filter from its raw BPF with the
// seccomp(2) syscall. It has no cgo dependency (libseccomp is only needed
// to compile, in runtime/seccomp), so the sandbox init can use it and stay a
// static binary.
package bpf

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	sockFilterSize  = 8    // sizeof(struct sock_filter)
	maxInstructions = 4096 // BPF_MAXINSNS
)

// Install sets no_new_privs and loads prog (an array of struct sock_filter
// in host byte order) into every thread of the calling process (TSYNC).
// Empty prog installs nothing but no_new_privs. Irreversible.
func Install(prog []byte) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("install seccomp: set no_new_privs: %w", err)
	}
	if len(prog) == 0 {
		return nil
	}
	if len(prog)%sockFilterSize != 0 || len(prog)/sockFilterSize > maxInstructions {
		return fmt.Errorf("install seccomp: malformed BPF of %d bytes", len(prog))
	}
	fprog := unix.SockFprog{Len: uint16(len(prog) / sockFilterSize), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("install seccomp filter: %w", errno)
	}
	return nil
}
