package sbinit

import (
	"errors"
	"fmt"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// setRlimits sets the service's ulimits on the init itself, before anything
// is forked: the workload and exec'd processes inherit them. The caller
// has set them already (runtime.setUlimits, prlimit from outside, which
// alone may raise a hard limit); setting them again here with syscall's
// Setrlimit (not unix's) makes the init's Go runtime hand the NOFILE set
// here to children, not the soft limit it saved at start-up.
func setRlimits(rs []Rlimit) error {
	for _, r := range rs {
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(r.Resource, &cur); err != nil {
			return fmt.Errorf("ulimits.%s: read the current limit: %w", r.Name, err)
		}
		err := syscall.Setrlimit(r.Resource, &syscall.Rlimit{Cur: r.Soft, Max: r.Hard})
		if err == nil {
			continue
		}
		if errors.Is(err, unix.EPERM) && r.Hard > cur.Max {
			return fmt.Errorf("ulimits.%s: hard limit %s is above %s, the init's: raising a hard limit needs CAP_SYS_RESOURCE in the host's user namespace; start nucleus with a higher limit (ulimit -H%s, LimitNOFILE= in a unit)",
				r.Name, limitString(r.Hard), limitString(cur.Max), ulimitFlag(r.Resource))
		}
		return fmt.Errorf("ulimits.%s: set soft %s, hard %s: %w", r.Name, limitString(r.Soft), limitString(r.Hard), err)
	}
	return nil
}

func limitString(v uint64) string {
	if v == RlimInfinity {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// ulimitFlag is the shell's ulimit option for a resource, for the hint.
func ulimitFlag(res int) string {
	switch res {
	case unix.RLIMIT_NOFILE:
		return "n"
	case unix.RLIMIT_NPROC:
		return "u"
	case unix.RLIMIT_MEMLOCK:
		return "l"
	case unix.RLIMIT_STACK:
		return "s"
	case unix.RLIMIT_CORE:
		return "c"
	}
	return "a"
}
