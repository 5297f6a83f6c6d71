package sbinit

import (
	"errors"
	"fmt"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// setRlimits sets the service's ulimits on the init itself, before anything
// is forked: the workload and exec'd processes inherit them. syscall's
// Setrlimit (not unix's) so that a NOFILE set here is what children get,
// not the soft limit Go saved at start-up.
//
// The kernel checks a raise of a hard limit against CAP_SYS_RESOURCE in the
// host's user namespace, which an init in a private user namespace never
// has: there only values up to the init's own hard limit (what nucleus was
// started with) work, and the error says so.
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
			return fmt.Errorf("ulimits.%s: hard limit %s is above %s, the hard limit nucleus runs with: raising a hard limit needs CAP_SYS_RESOURCE in the host's user namespace, which a sandbox's user namespace does not give; start nucleus with a higher limit (ulimit -H%s, LimitNOFILE= in a unit) or use userns: host as root",
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
