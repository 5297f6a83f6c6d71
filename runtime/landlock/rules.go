package landlock

import "fmt"

// Modes of a sandbox's Landlock setting (the file's security.landlock).
const (
	ModeDefault = "default"
	ModeOff     = "off"
	ModeCustom  = "custom"
)

// Config is a sandbox's Landlock setting: a mode, plus the rules ModeCustom
// adds to the defaults.
type Config struct {
	Mode  string
	Rules []Rule
}

// Device files every sandbox may read and write (the minimal /dev).
var devFiles = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx"}

// Writable kernel-backed or tmpfs places every sandbox has.
var defaultWritable = []string{"/tmp", "/run", "/dev/shm", "/dev/pts"}

// DefaultRules derives the default rules from a sandbox's mounts, as seen
// from inside it (after pivot_root):
//   - systemDirs (the read-only system view, e.g. /usr, /bin, /lib*, /etc,
//     /opt, or "/" of a read-only rootfs): read and execute;
//   - writable (read-write volumes, tmpfs volumes, "/" of a writable root):
//     read and write, no execute (grant it with custom rules);
//   - /tmp, /run, /dev/shm, /dev/pts: read and write;
//   - /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom, /dev/tty,
//     /dev/ptmx: read and write; /dev, /proc and /sys: read;
//   - "/": list only (READ_DIR). Rules are hierarchical, so every directory
//     can be listed: `ls /`, a file server in the working directory "/",
//     and the directories made for nested mount targets work. Listing
//     shows names only, and only what the mount namespace holds, which
//     /proc/self/mountinfo shows anyway; reading, writing and executing
//     files still need the rules above.
//
// Paths that a root file system lacks are skipped, except writable ones,
// which the runtime has just mounted.
func DefaultRules(systemDirs, writable []string) []Rule {
	rules := []Rule{{Path: "/", Access: []string{List}}}
	for _, d := range systemDirs {
		rules = append(rules, Rule{Path: d, Access: []string{Read, Execute}, Optional: true})
	}
	for _, d := range writable {
		rules = append(rules, Rule{Path: d, Access: []string{Read, Write}})
	}
	for _, d := range defaultWritable {
		rules = append(rules, Rule{Path: d, Access: []string{Read, Write}, Optional: true})
	}
	for _, f := range devFiles {
		rules = append(rules, Rule{Path: f, Access: []string{Read, Write}, Optional: true})
	}
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		rules = append(rules, Rule{Path: d, Access: []string{Read}, Optional: true})
	}
	return rules
}

// ForConfig returns the rules of a sandbox's Landlock setting: nil for
// "off" (apply nothing), DefaultRules for "default", and for "custom" the
// defaults plus the service's own rules (rules only grant, so custom rules
// can open up, e.g. execute on a volume, but the sandbox keeps working).
func ForConfig(l Config, systemDirs, writable []string) ([]Rule, error) {
	switch l.Mode {
	case ModeOff:
		return nil, nil
	case ModeDefault, "":
		return DefaultRules(systemDirs, writable), nil
	case ModeCustom:
		rules := DefaultRules(systemDirs, writable)
		for _, r := range l.Rules {
			if _, err := accessRights(r.Access); err != nil {
				return nil, fmt.Errorf("landlock rule %s: %w", r.Path, err)
			}
			if r.Path == "" || r.Path[0] != '/' {
				return nil, fmt.Errorf("landlock rule %q: path must be absolute", r.Path)
			}
			rules = append(rules, Rule{Path: r.Path, Access: r.Access})
		}
		return rules, nil
	}
	return nil, fmt.Errorf("unknown landlock mode %q (want default, off or custom)", l.Mode)
}
