package runtime

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"nucleus/internal/rootdir"
)

// Host id ranges for `userns: private`: each project gets 65536 uids and
// gids, container root = the first. Ranges are carved from idSpaceStart
// upwards, far above any real user (useradd stops at 60000, /etc/subuid
// ranges are skipped), and recorded in Root.Data/idranges.json so a project
// keeps its range and two projects never share one. The first slot tried
// depends on the root, so separate roots (tests) rarely collide.
const (
	IDRangeSize  = 65536
	idSpaceStart = 1 << 30 // 1073741824
	idSlots      = 16384   // up to 2^30 + 2^30: stays below 2^31
)

type idRanges struct {
	Projects map[string]uint32 `json:"projects"` // project -> base uid/gid
}

// ProjectIDRange returns (allocating on first use) the host uid/gid base of
// project's private user-namespace range.
func ProjectIDRange(root rootdir.Root, project string) (uint32, error) {
	if err := os.MkdirAll(root.Data, 0o755); err != nil {
		return 0, fmt.Errorf("create data root: %w", err)
	}
	path := filepath.Join(root.Data, "idranges.json")
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open id range lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return 0, fmt.Errorf("lock id ranges: %w", err)
	}
	r := idRanges{Projects: map[string]uint32{}}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &r); err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		if r.Projects == nil {
			r.Projects = map[string]uint32{}
		}
	}
	if base, ok := r.Projects[project]; ok {
		return base, nil
	}
	used := map[uint32]bool{}
	for _, b := range r.Projects {
		used[b] = true
	}
	taken := hostIDRanges()
	sum := sha256.Sum256([]byte(root.Run))
	start := binary.BigEndian.Uint32(sum[:4]) % idSlots
	for i := uint32(0); i < idSlots; i++ {
		base := uint32(idSpaceStart) + ((start+i)%idSlots)*IDRangeSize
		if used[base] || overlaps(taken, base) {
			continue
		}
		r.Projects[project] = base
		b, _ := json.MarshalIndent(r, "", "  ")
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return 0, fmt.Errorf("record id range: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return 0, fmt.Errorf("record id range: %w", err)
		}
		return base, nil
	}
	return 0, fmt.Errorf("no free %d-id range left for project %s", IDRangeSize, project)
}

// hostIDRanges lists [start, end) ranges in use on the host: real users and
// groups and the subordinate ranges handed out by /etc/subuid, /etc/subgid.
func hostIDRanges() [][2]uint64 {
	var out [][2]uint64
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		forLines(f, func(fields []string) {
			if len(fields) > 2 {
				if n, err := strconv.ParseUint(fields[2], 10, 32); err == nil {
					out = append(out, [2]uint64{n, n + 1})
				}
			}
		})
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		forLines(f, func(fields []string) {
			if len(fields) == 3 {
				s, e1 := strconv.ParseUint(fields[1], 10, 32)
				n, e2 := strconv.ParseUint(fields[2], 10, 32)
				if e1 == nil && e2 == nil {
					out = append(out, [2]uint64{s, s + n})
				}
			}
		})
	}
	return out
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

func forLines(file string, fn func([]string)) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fn(strings.Split(sc.Text(), ":"))
	}
}
