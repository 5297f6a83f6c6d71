//go:build linux && !amd64

package runtime

import (
	"fmt"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// The child's entry (rawClone*) is amd64 assembly only so far: elsewhere
// spawnInit fails with errNoSpawn before cloning, and only the v2 cgroupfs
// path (os/exec) starts sandboxes.
var errNoSpawn = fmt.Errorf("start sandbox init: unsupported on %s: nucleus clones the init of a sandbox on a cgroup v1 or hybrid host, or of a rootless one, with an entry written for amd64 only; here only root on a pure cgroup v2 host can start sandboxes: %w", goruntime.GOARCH, unix.ENOSYS)

func rawCloneInit(flags, stack, arg uintptr) (pid, errno uintptr) { return 0, uintptr(unix.ENOSYS) }
func rawCloneJoin(flags, stack, arg uintptr) (pid, errno uintptr) { return 0, uintptr(unix.ENOSYS) }
