// Package rootdir resolves where nucleus keeps its state. Everything nucleus
// writes lives under one Root so tests can run side by side with their own.
package rootdir

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
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
	run := os.Getenv("XDG_RUNTIME_DIR")
	if run == "" {
		run = filepath.Join(os.TempDir(), "nucleus-"+strconv.Itoa(os.Geteuid()))
	} else {
		run = filepath.Join(run, "nucleus")
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, _ := os.UserHomeDir()
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
