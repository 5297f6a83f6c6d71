package runtime

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"nucleus/internal/atomicfile"
	"nucleus/internal/flock"
	"nucleus/internal/rootdir"
)

// Host id ranges for `userns: private`: each project gets 65536 uids and
// gids, container root = the first. Ranges are carved from idSpaceStart
// upwards, far above any real user (useradd stops at 60000; users in
// /etc/passwd and /etc/group and /etc/subuid, /etc/subgid ranges are
// skipped; NSS/LDAP users are not seen), and recorded twice:
//   - Root.Data/idranges.json: project -> base, so a project keeps its range
//     as long as its state root exists (its named volumes are owned by it);
//     mode 0600: the data root is traversable by all, and the file would
//     tell every user root's project names;
//   - a host-wide lease in IDRegistryDir (one file per range), so no two
//     projects of any state roots on this host share a range (idlease.go).
//
// Ranges used by live processes of other tools (their /proc/*/uid_map) are
// skipped too.
const (
	IDRangeSize  = 65536
	idSpaceStart = 1 << 30 // 1073741824
	idSlots      = 16384   // up to 2^30 + 2^30: stays below 2^31
)

type idRanges struct {
	Projects map[string]uint32 `json:"projects"` // project -> base uid/gid
}

func idRangesFile(root rootdir.Root) string { return filepath.Join(root.Data, "idranges.json") }

// readIDRanges loads a root's table; a missing file is an empty table.
func readIDRanges(path string) (idRanges, error) {
	r := idRanges{Projects: map[string]uint32{}}
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("read %s: %w", path, err)
	}
	if r.Projects == nil {
		r.Projects = map[string]uint32{}
	}
	return r, nil
}

// ProjectIDRange returns (allocating on first use) the host uid/gid base of
// project's private user-namespace range.
func ProjectIDRange(root rootdir.Root, project string) (uint32, error) {
	data, err := filepath.Abs(root.Data)
	if err != nil {
		return 0, fmt.Errorf("data root: %w", err)
	}
	root.Data = data
	// 0711: other users may traverse to what they are given, not list or
	// read projects and volumes (Docker keeps its root 0710/0701).
	if err := os.MkdirAll(root.Data, 0o711); err != nil {
		return 0, fmt.Errorf("create data root: %w", err)
	}
	path := idRangesFile(root)
	unlock, err := flock.Lock(path+".lock", unix.LOCK_EX)
	if err != nil {
		return 0, err
	}
	defer unlock()
	r, err := readIDRanges(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	l := idLease{Data: root.Data, Project: project}
	if base, ok := r.Projects[project]; ok {
		// Fast path (every Create): the lease is ours; reading it needs no
		// registry lock, leases are replaced atomically and a live one is
		// never pruned.
		l.Base = base
		if cur, ok, err := (&idRegistry{dir: IDRegistryDir}).read(base); err == nil && ok && cur == l {
			return base, nil
		}
	}
	reg, err := openIDRegistry()
	if err != nil {
		return 0, err
	}
	defer reg.Close()
	if base, ok := r.Projects[project]; ok {
		// Stable: the recorded range, whose lease must be ours (it is
		// re-taken when missing, e.g. a registry that was wiped).
		l.Base = base
		return base, reg.ensure(l)
	}
	base, err := reg.allocate(root.Run)
	if err != nil {
		return 0, fmt.Errorf("project %s: %w", project, err)
	}
	l.Base = base
	if err := reg.ensure(l); err != nil {
		return 0, err
	}
	r.Projects[project] = base
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		reg.release(l)
		return 0, fmt.Errorf("record id range: %w", err)
	}
	return base, nil
}

// ReleaseProjectIDRange gives project's range back: it is dropped from the
// root's table and its host-wide lease removed. Files still owned by the
// range (named volumes) would then belong to whoever gets it next, so only
// call it when nothing of the project is left.
func ReleaseProjectIDRange(root rootdir.Root, project string) error {
	data, err := filepath.Abs(root.Data)
	if err != nil {
		return fmt.Errorf("data root: %w", err)
	}
	root.Data = data
	path := idRangesFile(root)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	unlock, err := flock.Lock(path+".lock", unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := readIDRanges(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	base, ok := r.Projects[project]
	if !ok {
		return nil
	}
	reg, err := openIDRegistry()
	if err != nil {
		return err
	}
	defer reg.Close()
	if err := reg.release(idLease{Base: base, Data: root.Data, Project: project}); err != nil {
		return err
	}
	delete(r.Projects, project)
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("record id range release: %w", err)
	}
	return nil
}

// firstSlot spreads roots over the id space so separate roots rarely probe
// the same slots first.
func firstSlot(seed string) uint32 {
	sum := sha256.Sum256([]byte(seed))
	return binary.BigEndian.Uint32(sum[:4]) % idSlots
}

// hostIDRanges lists [start, end) ranges in use on the host: real users and
// groups, the subordinate ranges handed out by /etc/subuid, /etc/subgid, and
// the ranges mapped into live user namespaces.
func hostIDRanges() [][2]uint64 {
	var out [][2]uint64
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		forLines(f, ":", func(fields []string) {
			if len(fields) > 2 {
				if n, err := strconv.ParseUint(fields[2], 10, 32); err == nil {
					out = append(out, [2]uint64{n, n + 1})
				}
			}
		})
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		forLines(f, ":", func(fields []string) {
			if len(fields) == 3 {
				s, e1 := strconv.ParseUint(fields[1], 10, 32)
				n, e2 := strconv.ParseUint(fields[2], 10, 32)
				if e1 == nil && e2 == nil {
					out = append(out, [2]uint64{s, s + n})
				}
			}
		})
	}
	return append(out, liveMappedRanges()...)
}

// liveMappedRanges reads the host side of every process's uid_map and
// gid_map (the initial namespace's identity map aside): ranges of sandboxes
// started by other tools or by roots that predate the registry. It runs on
// every range allocation (each `nucleus run`), so it lists /proc once and
// reads each map with bare open/read: a glob of /proc/[0-9]*/[ug]id_map
// listed every process's directory and os.File set up each descriptor for
// the poller, ~9 ms on a loaded host with 130 processes.
func liveMappedRanges() [][2]uint64 {
	var out [][2]uint64
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	buf := make([]byte, 4096)
	for _, p := range procs {
		if c := p.Name()[0]; c < '0' || c > '9' {
			continue
		}
		for _, m := range [...]string{"/uid_map", "/gid_map"} {
			n := readSmall("/proc/"+p.Name()+m, buf)
			for _, line := range strings.Split(string(buf[:n]), "\n") {
				f := strings.Fields(line)
				if len(f) != 3 {
					continue
				}
				outside, e1 := strconv.ParseUint(f[1], 10, 32)
				cnt, e2 := strconv.ParseUint(f[2], 10, 33)
				if e1 == nil && e2 == nil && cnt < 1<<32-1 {
					out = append(out, [2]uint64{outside, outside + cnt})
				}
			}
		}
	}
	return out
}

// readSmall reads up to len(buf) bytes of a small kernel file; 0 when it
// cannot be read (the process is gone).
func readSmall(path string, buf []byte) int {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func overlaps(rs [][2]uint64, base uint32) bool {
	lo, hi := uint64(base), uint64(base)+IDRangeSize
	for _, r := range rs {
		if r[0] < hi && lo < r[1] {
			return true
		}
	}
	return false
}

// forLines calls fn with the fields of each line of file, split at sep
// ("" = whitespace).
func forLines(file, sep string, fn func([]string)) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sep == "" {
			fn(strings.Fields(sc.Text()))
		} else {
			fn(strings.Split(sc.Text(), sep))
		}
	}
}
