package runtime

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// setUlimits sets the service's ulimits on the init (pid) from the caller,
// before the init gets its config: the kernel checks a raised hard limit
// against CAP_SYS_RESOURCE of the caller in the host's user namespace,
// which nucleus run as root has and an init in a private user namespace
// never has. The init sets the same values again itself (sbinit
// setRlimits), so its Go runtime hands them to the workload unchanged.
// Without that capability (nucleus not root) a hard limit above nucleus's
// own fails with the reason.
func setUlimits(pid int, us []Ulimit) error {
	for _, u := range us {
		var cur unix.Rlimit
		if err := unix.Prlimit(pid, u.Resource, nil, &cur); err != nil {
			return fmt.Errorf("ulimits.%s: read the init's limit: %w", u.Name, err)
		}
		err := unix.Prlimit(pid, u.Resource, &unix.Rlimit{Cur: u.Soft, Max: u.Hard}, nil)
		switch {
		case err == nil:
		case errors.Is(err, unix.EPERM) && u.Hard > cur.Max:
			return fmt.Errorf("ulimits.%s: hard limit %s is above %s, the hard limit nucleus runs with: raising a hard limit needs CAP_SYS_RESOURCE in the host's user namespace (nucleus run as root has it); start nucleus with a higher limit (ulimit -H, LimitNOFILE= and the like in a unit)%s",
				u.Name, limitText(u.Hard), limitText(cur.Max), nrOpenHint(u))
		default:
			return fmt.Errorf("ulimits.%s: set soft %s, hard %s: %w%s", u.Name, limitText(u.Soft), limitText(u.Hard), err, nrOpenHint(u))
		}
	}
	return nil
}

// nrOpenHint: nofile never goes above fs.nr_open, even for root.
func nrOpenHint(u Ulimit) string {
	if u.Resource == unix.RLIMIT_NOFILE {
		return " (nofile is also capped by fs.nr_open)"
	}
	return ""
}

func limitText(v uint64) string {
	if v == RlimInfinity {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}
