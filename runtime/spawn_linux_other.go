//go:build linux && !amd64

package runtime

import "golang.org/x/sys/unix"

// The child's entry (rawClone*) is amd64 assembly only so far: elsewhere
// spawnInit fails with ENOSYS ("clone sandbox init: function not
// implemented"), and only the v2 cgroupfs path (os/exec) starts sandboxes.
func rawCloneInit(flags, stack, arg uintptr) (pid, errno uintptr) { return 0, uintptr(unix.ENOSYS) }
func rawCloneJoin(flags, stack, arg uintptr) (pid, errno uintptr) { return 0, uintptr(unix.ENOSYS) }
