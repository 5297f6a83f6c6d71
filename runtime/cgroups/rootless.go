package cgroups

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// An unprivileged user's sandboxes get cgroups only where systemd
// delegates a subtree to the user (cgroup v2, user@UID.service): each is a
// transient scope of the USER's manager, reached over the user's D-Bus, as
// rootless Podman does. The limits whose controllers that subtree lacks
// are reported as not enforced (NotEnforced).
var (
	// userMode: Systemd means the user's manager (SelectManager as non-root).
	userMode bool
	// sliceBase is where the manager's slices sit in the hierarchy: "" for
	// the system manager, /user.slice/user-UID.slice/user@UID.service for
	// a user's.
	sliceBase string
	// delegated are the controllers of the user's subtree (userMode).
	delegated []string
	// userUID is the user whose manager is used (userMode).
	userUID int
)

// userServiceDir is the cgroup systemd delegates to uid's user manager.
func userServiceDir(uid int) string {
	return fmt.Sprintf("/user.slice/user-%d.slice/user@%d.service", uid, uid)
}

// runtimeDir is $XDG_RUNTIME_DIR, else /run/user/UID.
func runtimeDir(uid int) string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return d
	}
	return "/run/user/" + strconv.Itoa(uid)
}

// userBusSockets are the sockets the user's manager answers on, in order:
// the session bus ($DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus)
// and the manager's own private socket (no dbus-user-session needed).
func userBusSockets(uid int) []string {
	var out []string
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		if p, ok := strings.CutPrefix(a, "unix:path="); ok {
			out = append(out, strings.SplitN(p, ",", 2)[0])
		}
	}
	rd := runtimeDir(uid)
	return append(out, filepath.Join(rd, "bus"), filepath.Join(rd, "systemd", "private"))
}

// rootlessManager decides an unprivileged user's manager: the user's
// systemd where it delegates a v2 subtree with a controller nucleus uses
// and its socket is there, else None; why says why not (or which
// controllers are missing).
func rootlessManager(uid int, unified bool) (m Manager, ctrls []string, why string) {
	if !unified {
		return None, nil, fmt.Sprintf("no cgroup delegated to uid %d on this host (cgroup v1/hybrid)", uid)
	}
	svc := userServiceDir(uid)
	b, err := os.ReadFile(filepath.Join(mountBase, svc, "cgroup.controllers"))
	if err != nil {
		return None, nil, fmt.Sprintf("no cgroup delegated to uid %d: no systemd user manager (%s; start one with loginctl enable-linger)", uid, svc)
	}
	for _, c := range strings.Fields(string(b)) {
		if c == "memory" || c == "cpu" || c == "pids" {
			ctrls = append(ctrls, c)
		}
	}
	if ctrls == nil {
		return None, nil, fmt.Sprintf("user@%d.service delegates no memory, cpu or pids controller to uid %d", uid, uid)
	}
	socks := userBusSockets(uid)
	for _, s := range socks {
		if _, err := os.Stat(s); err == nil {
			return Systemd, ctrls, fmt.Sprintf("not delegated to uid %d (user@%d.service delegates %s)", uid, uid, strings.Join(ctrls, ", "))
		}
	}
	return None, nil, fmt.Sprintf("no D-Bus of uid %d's systemd user manager (%s)", uid, strings.Join(socks, ", "))
}

// controllerOf is the controller that enforces a limit of the file.
var controllerOf = map[string]string{"memory": "memory", "cpus": "cpu", "pids": "pids"}

// enforced reports whether the current manager enforces limit (as the
// file spells it).
func enforced(limit string) bool {
	switch {
	case manager == None:
		return false
	case manager == Systemd && userMode:
		return slices.Contains(delegated, controllerOf[limit])
	}
	return true
}

// userConn connects to the user's systemd manager: the session bus, else
// its private socket.
func userConn(ctx context.Context) (*sdbus.Conn, error) {
	var errs []string
	for _, s := range userBusSockets(userUID) {
		if _, err := os.Stat(s); err != nil {
			continue
		}
		private := strings.HasSuffix(s, "/systemd/private")
		c, err := sdbus.NewConnection(func() (*godbus.Conn, error) {
			conn, err := godbus.Dial("unix:path="+s, godbus.WithContext(ctx))
			if err != nil {
				return nil, err
			}
			if err := conn.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
				conn.Close()
				return nil, err
			}
			if !private { // a bus wants Hello; the manager's own socket does not
				if err := conn.Hello(); err != nil {
					conn.Close()
					return nil, err
				}
			}
			return conn, nil
		})
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", s, err))
	}
	return nil, fmt.Errorf("cgroup manager systemd: cannot reach uid %d's systemd user manager (%s); run with --cgroup-manager none to go without limits",
		userUID, strings.Join(errs, "; "))
}
