package cgroups

import (
	"fmt"
	"os"
	"strings"
)

// Manager is who creates the sandboxes' cgroups (like Podman's
// --cgroup-manager).
//
//   - Cgroupfs: nucleus writes /sys/fs/cgroup/nucleus-<rootID>/<id> itself
//     (v1 or v2). Right on hosts without systemd (containers, minimal VMs)
//     and the default on hybrid hosts.
//   - Systemd: each sandbox is a transient scope unit with Delegate=yes,
//     created over systemd's D-Bus API in a slice per project (see
//     systemd.go); nucleus writes only below the scope (the workload leaf)
//     and leaves the scope's own attributes to systemd. Pure v2 hosts only.
//   - None: no cgroup at all, so no limit is enforced (NotEnforced says
//     which and why). The default of an unprivileged user to whom no
//     cgroup is delegated; the sandbox still dies whole with its init, PID
//     1 of its PID namespace.
type Manager string

const (
	Cgroupfs Manager = "cgroupfs"
	Systemd  Manager = "systemd"
	None     Manager = "none"
)

// ManagerEnv names the environment variable that chooses the manager when
// --cgroup-manager is not given.
const ManagerEnv = "NUCLEUS_CGROUP_MANAGER"

var (
	// manager is the process-wide choice (SetManager).
	manager = Cgroupfs
	// noneReason is why manager is None (SetManager, SelectManager).
	noneReason = "--cgroup-manager none"
	// euid is whose cgroups SelectManager looks for.
	euid = os.Geteuid
	// systemdBooted reports whether PID 1 is systemd (sd_booted(3)).
	systemdBooted = func() bool {
		_, err := os.Lstat("/run/systemd/system")
		return err == nil
	}
)

// SetManager sets the manager New uses from now on. Existing cgroups keep
// theirs: Load recognises both layouts whatever the setting.
func SetManager(m Manager) {
	manager = m
	if m == None && noneReason == "" {
		noneReason = "--cgroup-manager none"
	}
}

// CurrentManager is the manager New uses.
func CurrentManager() Manager { return manager }

// ParseManager checks a --cgroup-manager value.
func ParseManager(s string) (Manager, error) {
	switch m := Manager(strings.ToLower(strings.TrimSpace(s))); m {
	case Cgroupfs, Systemd, None:
		return m, nil
	}
	return "", fmt.Errorf("unknown cgroup manager %q; expected systemd, cgroupfs or none", s)
}

// DefaultManager is systemd when PID 1 is systemd and the host is pure
// cgroup v2, cgroupfs otherwise (hybrid hosts keep direct placement unless
// asked).
func DefaultManager() Manager { return defaultManager(systemdBooted(), useV2()) }

func defaultManager(systemd, unified bool) Manager {
	if systemd && unified {
		return Systemd
	}
	return Cgroupfs
}

// SelectManager resolves the manager: the flag if set, else the environment
// variable ManagerEnv if set, else DefaultManager. Asking for systemd where
// it cannot work (PID 1 is not systemd, or the host is not pure v2) is an
// error that names the alternative.
func SelectManager(flag, env string) (Manager, error) {
	noneReason = "--cgroup-manager none"
	if flag == "" && env != "" {
		noneReason = ManagerEnv + "=" + env
	}
	userMode, sliceBase, delegated, userUID = false, "", nil, 0
	if uid := euid(); uid != 0 {
		return selectRootless(uid, flag, env)
	}
	return selectManager(flag, env, systemdBooted(), useV2())
}

// selectRootless: nothing of the host's hierarchies is an unprivileged
// user's to write; its own systemd manager's delegated subtree is, where
// there is one (rootless.go). Asked for none (as a detached supervisor is
// passed the caller's choice), the reason stays the user's.
func selectRootless(uid int, flag, env string) (Manager, error) {
	m, ctrls, why := rootlessManager(uid, useV2())
	noneReason = why
	src, val := "--cgroup-manager", flag
	if val == "" {
		src, val = ManagerEnv, env
	}
	want := m
	if val != "" {
		var err error
		if want, err = ParseManager(val); err != nil {
			return "", fmt.Errorf("%s: %w", src, err)
		}
	}
	switch {
	case want == None:
		if m == Systemd {
			noneReason = src + " none"
		}
		return None, nil
	case want == Cgroupfs:
		return "", fmt.Errorf("%s cgroupfs: needs root (an unprivileged user's cgroups come from its systemd user manager, or none)", src)
	case m != Systemd:
		return "", fmt.Errorf("%s systemd: %s; use --cgroup-manager none", src, why)
	}
	userMode, sliceBase, delegated, userUID = true, userServiceDir(uid), ctrls, uid
	return Systemd, nil
}

func selectManager(flag, env string, systemd, unified bool) (Manager, error) {
	src, val := "--cgroup-manager", flag
	if val == "" {
		src, val = ManagerEnv, env
	}
	if val == "" {
		return defaultManager(systemd, unified), nil
	}
	m, err := ParseManager(val)
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	if m == Systemd {
		switch {
		case !systemd:
			return "", fmt.Errorf("%s systemd: PID 1 is not systemd (no /run/systemd/system); use --cgroup-manager cgroupfs", src)
		case !unified:
			return "", fmt.Errorf("%s systemd: needs a pure cgroup v2 host (this one is hybrid or v1); use --cgroup-manager cgroupfs", src)
		}
	}
	return m, nil
}
