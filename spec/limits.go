package spec

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Ulimit is one resource limit; -1 (UlimitUnlimited) is "unlimited".
type Ulimit struct {
	Soft int64 `json:"soft" yaml:"soft"`
	Hard int64 `json:"hard" yaml:"hard"`
}

// UlimitUnlimited is RLIM_INFINITY in a Ulimit.
const UlimitUnlimited = -1

// ulimitResources are every RLIMIT_* Linux has, by Compose's (Docker's)
// names, plus "as", which Docker lacks.
var ulimitResources = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// UlimitResource is the RLIMIT_* number of a ulimits name (ok=false for
// a name the loader would have refused).
func UlimitResource(name string) (int, bool) {
	r, ok := ulimitResources[name]
	return r, ok
}

// ulimits decodes `ulimits: {nofile: N | {soft: N, hard: N}, ...}`: one
// number sets both limits, as in Compose; -1 or unlimited is no limit.
func (d *decoder) ulimits(v *node, p string) map[string]Ulimit {
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range ulimitResources {
			if !yield(k) {
				return
			}
		}
	})
	out := map[string]Ulimit{}
	d.fields(v, p, names, func(name string, lv *node, lp string) {
		if lv.kind != kindMap {
			if n, ok := d.ulimitValue(lv, lp); ok {
				out[name] = Ulimit{Soft: n, Hard: n}
			}
			return
		}
		var u Ulimit
		var soft, hard bool
		d.fields(lv, lp, []string{"soft", "hard"}, func(k string, fv *node, fp string) {
			n, ok := d.ulimitValue(fv, fp)
			if k == "soft" {
				u.Soft, soft = n, ok
			} else {
				u.Hard, hard = n, ok
			}
		})
		switch {
		case !soft || !hard:
			d.errorf(lv, lp, "give both soft and hard (or one number for both)")
		case u.Hard != UlimitUnlimited && (u.Soft == UlimitUnlimited || u.Soft > u.Hard):
			d.errorf(lv, lp, "soft limit %s is above the hard limit %s", ulimitText(u.Soft), ulimitText(u.Hard))
		default:
			out[name] = u
		}
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

func (d *decoder) ulimitValue(n *node, p string) (int64, bool) {
	if s, ok := d.str(n, p); ok && (s == "unlimited" || s == "-1") {
		return UlimitUnlimited, true
	}
	return d.integer(n, p, 0, 1<<62)
}

func ulimitText(v int64) string {
	if v == UlimitUnlimited {
		return "unlimited"
	}
	return strconv.FormatInt(v, 10)
}

// FileMode is a tmpfs's permission bits, written in octal ("1777",
// "0700") whether quoted or not, and printed so.
type FileMode uint32

// MarshalText prints the octal form.
func (m FileMode) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("%04o", uint32(m))), nil }

// UnmarshalText parses the octal form.
func (m *FileMode) UnmarshalText(b []byte) error {
	v, err := ParseFileMode(string(b))
	*m = v
	return err
}

// ParseFileMode reads octal permission bits (at most 07777).
func ParseFileMode(s string) (FileMode, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("invalid mode %q; expected octal permission bits like 1777 or 0700", s)
	}
	return FileMode(v), nil
}

// tmpfsKeys are the long volume form's tmpfs: sub-keys (Compose's size and
// mode, plus nucleus's exec).
var tmpfsKeys = []string{"size", "mode", "exec"}

// tmpfsOptions decodes the long form's `tmpfs: {size, mode, exec}` into m.
func (d *decoder) tmpfsOptions(v *node, p string, m *VolumeMount) {
	d.fields(v, p, tmpfsKeys, func(k string, fv *node, fp string) {
		switch k {
		case "size":
			set(&m.Size)(d.size(fv, fp))
		case "mode":
			set(&m.Mode)(parseScalar(d, fv, fp, ParseFileMode))
		case "exec":
			if b, ok := d.boolean(fv, fp); ok {
				m.Exec = &b
			}
		}
	})
}

// tmpfsShort decodes the service key `tmpfs: PATH[:OPTIONS]` or a list of
// them (Docker's --tmpfs): OPTIONS are comma-separated size=, mode=
// (octal), exec, noexec, ro and rw; nosuid and nodev always apply, so they
// are accepted and change nothing.
func (d *decoder) tmpfsShort(v *node, p string) []VolumeMount {
	var out []VolumeMount
	d.strEach(v, p, true, func(s string, it *node, ip string) {
		m, err := ParseTmpfs(s)
		if err != nil {
			d.errorf(it, ip, "%v", err)
			return
		}
		out = append(out, m)
	})
	return out
}

// ParseTmpfs parses one entry of the service key tmpfs.
func ParseTmpfs(s string) (VolumeMount, error) {
	target, opts, _ := strings.Cut(s, ":")
	m := VolumeMount{Type: MountTmpfs, Target: target}
	if err := checkTarget(target); err != nil {
		return m, err
	}
	m.Target = filepath.Clean(target)
	if opts == "" {
		return m, nil
	}
	for _, o := range strings.Split(opts, ",") {
		k, val, hasVal := strings.Cut(o, "=")
		var err error
		switch {
		case k == "size" && hasVal:
			m.Size, err = ParseByteSize(val)
		case k == "mode" && hasVal:
			m.Mode, err = ParseFileMode(val)
		case (k == "exec" || k == "noexec") && !hasVal:
			b := k == "exec"
			m.Exec = &b
		case (k == "ro" || k == "rw") && !hasVal:
			m.ReadOnly = k == "ro"
		case (k == "nosuid" || k == "nodev") && !hasVal:
		default:
			return m, fmt.Errorf("tmpfs option %q of %s is not supported; expected size=SIZE, mode=OCTAL, exec, noexec, ro or rw (nosuid and nodev always apply)", o, target)
		}
		if err != nil {
			return m, fmt.Errorf("tmpfs %s: %v", target, err)
		}
	}
	return m, nil
}
