// Package rootdir resolves where nucleus keeps its state. Everything nucleus
// writes lives under one Root so tests can run side by side with their own.
package rootdir

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Root holds the two state directories.
type Root struct {
	// Run holds runtime state that does not survive a reboot: sockets,
	// sandbox records, log files, slirp4netns runtime directories.
	Run string
	// Data holds persistent data: named volumes, address allocations.
	Data string
}

// EnvVar overrides the default root, like the --root flag.
const EnvVar = "NUCLEUS_ROOT"

// Resolve picks the root: the flag value, else $NUCLEUS_ROOT, else the
// system default (/run/nucleus and /var/lib/nucleus as root, XDG dirs when not).
// An explicit root R puts runtime state in R/run and data in R/data.
func Resolve(flag string) Root {
	r := flag
	if r == "" {
		r = os.Getenv(EnvVar)
	}
	if r != "" {
		abs, err := filepath.Abs(r)
		if err == nil {
			r = abs
		}
		return Root{Run: filepath.Join(r, "run"), Data: filepath.Join(r, "data")}
	}
	if os.Geteuid() == 0 {
		return Root{Run: "/run/nucleus", Data: "/var/lib/nucleus"}
	}
	return forUser(os.Geteuid(), os.Getenv)
}

// forUser is the default root of an ordinary user: XDG_RUNTIME_DIR and
// XDG_DATA_HOME, else a per-uid directory in /tmp and ~/.local/share. A
// relative value is ignored, as the XDG spec says, and so is a HOME that is
// unset or relative (su, cron, env -i): the home comes from the password
// database then, where a "" would have put the state under the current
// directory, a different root for each directory the user runs nucleus in.
func forUser(euid int, getenv func(string) string) Root {
	run := getenv("XDG_RUNTIME_DIR")
	if !filepath.IsAbs(run) {
		run = filepath.Join(os.TempDir(), "nucleus-"+strconv.Itoa(euid))
	} else {
		run = filepath.Join(run, "nucleus")
	}
	data := getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(data) {
		home := getenv("HOME")
		if !filepath.IsAbs(home) {
			home = "/"
			if u, err := user.LookupId(strconv.Itoa(euid)); err == nil && filepath.IsAbs(u.HomeDir) {
				home = u.HomeDir
			}
		}
		data = filepath.Join(home, ".local", "share")
	}
	return Root{Run: run, Data: filepath.Join(data, "nucleus")}
}

// ID is a short stable identifier of this root (8 hex digits). Host objects
// outside the root (cgroups, interfaces, nftables tables) carry it in their
// names so that two roots never collide and a leak check can find its own.
func (r Root) ID() string {
	sum := sha256.Sum256([]byte(r.Run))
	return hex.EncodeToString(sum[:4])
}

// chooseRoot says how a user picks directories of their own.
const chooseRoot = "set XDG_RUNTIME_DIR and XDG_DATA_HOME (or HOME), or NUCLEUS_ROOT or --root, to directories you can write"

// MakePrivate creates both directories with mode 0700 (an existing one of
// ours is narrowed to 0700), for a user who is not root: other users must
// not read or enter its state. A directory owned by someone else (e.g. a
// /tmp fallback made by another user first) is refused.
func (r Root) MakePrivate() error {
	for _, d := range []string{r.Run, r.Data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("state directory %s: %w: %s", d, err, chooseRoot)
		}
		var st unix.Stat_t
		if err := unix.Lstat(d, &st); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("state directory %s: expected a directory owned by uid %d, found one owned by uid %d (mode %o): remove it, or %s",
				d, os.Geteuid(), st.Uid, st.Mode, chooseRoot)
		}
		if st.Mode&0o077 != 0 {
			if err := os.Chmod(d, 0o700); err != nil {
				return fmt.Errorf("state directory: %w", err)
			}
		}
	}
	return nil
}
