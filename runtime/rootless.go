package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"nucleus/internal/atomicfile"
	"nucleus/internal/rootdir"
)

// Rootless mode: nucleus run by an ordinary user (effective uid not 0).
// The sandbox's user namespace then maps container root to the user and
// container ids 1..65535 to the start of the user's subordinate range from
// /etc/subuid and /etc/subgid, written by the setuid helpers newuidmap and
// newgidmap (Debian's uidmap). Every sandbox of the user shares that one
// range, as rootless Podman does: sandboxes are kept apart by their
// namespaces, not by distinct ids, and a user rarely has more than one
// range. The range in use is recorded in the user's data root
// (subids.json) so that a changed /etc/subuid, which would give the files
// of named volumes to other ids, stops with an error instead.

// Rootless reports whether sandboxes are made the rootless way.
func Rootless() bool { return os.Geteuid() != 0 }

// subIDs is the rootless mapping of one user.
type subIDs struct {
	User string `json:"user"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	// SubUID and SubGID are the start and count of the subordinate range
	// used (the first one the files give the user).
	SubUID [2]int `json:"subuid"`
	SubGID [2]int `json:"subgid"`
}

// Files read; variables for tests.
var (
	subUIDFile = "/etc/subuid"
	subGIDFile = "/etc/subgid"
)

// size is the number of container ids mapped: root plus the range, at
// most IDRangeSize.
func (m subIDs) size() int {
	return min(1+m.SubUID[1], 1+m.SubGID[1], IDRangeSize)
}

// hostID is the host uid (gid: gid true) of container id id, -1 when
// unmapped.
func (m subIDs) hostID(id int, gid bool) int {
	own, r := m.UID, m.SubUID
	if gid {
		own, r = m.GID, m.SubGID
	}
	switch {
	case id == 0:
		return own
	case id < m.size():
		return r[0] + id - 1
	}
	return -1
}

// userSubIDs reads the caller's subordinate ranges; a user without one
// gets an error naming the file and the command that adds one.
func userSubIDs() (subIDs, error) {
	uid, gid := os.Getuid(), os.Getgid()
	m := subIDs{UID: uid, GID: gid, User: strconv.Itoa(uid)}
	if u, err := user.LookupId(m.User); err == nil {
		m.User = u.Username
	}
	for i, f := range []string{subUIDFile, subGIDFile} {
		r, err := subRange(f, m.User, uid)
		if err != nil {
			return m, err
		}
		if r[1] == 0 {
			return m, fmt.Errorf("user %s (uid %d) has no subordinate %s range in %s, which rootless sandboxes need: "+
				"ask an administrator to run `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s` "+
				"(any free range of 65536 ids)", m.User, uid, [2]string{"uid", "gid"}[i], f, m.User)
		}
		if i == 0 {
			m.SubUID = r
		} else {
			m.SubGID = r
		}
	}
	return m, nil
}

// subRange returns the first range of file given to name or uid (count 0
// when none). A missing file has none.
func subRange(file, name string, uid int) ([2]int, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return [2]int{}, nil
	}
	if err != nil {
		return [2]int{}, fmt.Errorf("read subordinate ids: %w", err)
	}
	for n, l := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(l), ":")
		if len(f) != 3 || (f[0] != name && f[0] != strconv.Itoa(uid)) {
			continue
		}
		s, e1 := strconv.Atoi(f[1])
		c, e2 := strconv.Atoi(f[2])
		if e1 != nil || e2 != nil || s < 0 || c <= 0 {
			return [2]int{}, fmt.Errorf("%s:%d: expected NAME:START:COUNT with numbers, got %q", file, n+1, l)
		}
		return [2]int{s, c}, nil
	}
	return [2]int{}, nil
}

func subIDsFile(root rootdir.Root) string { return filepath.Join(root.Data, "subids.json") }

// rootlessIDs returns the caller's mapping, recording it in the data root
// on first use and refusing one that differs from the recorded one.
func rootlessIDs(root rootdir.Root) (subIDs, error) {
	m, err := userSubIDs()
	if err != nil {
		return m, err
	}
	path := subIDsFile(root)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var old subIDs
		if err := json.Unmarshal(b, &old); err != nil {
			return m, fmt.Errorf("read %s: %w", path, err)
		}
		if old.SubUID != m.SubUID || old.SubGID != m.SubGID || old.UID != m.UID || old.GID != m.GID {
			return m, fmt.Errorf("the id mapping of %s changed: %s records uid %d gid %d, subuid %d+%d, subgid %d+%d; "+
				"now uid %d gid %d, subuid %d+%d (%s), subgid %d+%d (%s); files of named volumes in %s belong to the old ids: "+
				"restore the old range, or remove %s to accept the new one",
				m.User, path, old.UID, old.GID, old.SubUID[0], old.SubUID[1], old.SubGID[0], old.SubGID[1],
				m.UID, m.GID, m.SubUID[0], m.SubUID[1], subUIDFile, m.SubGID[0], m.SubGID[1], subGIDFile, root.Data, path)
		}
		return m, nil
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(root.Data, 0o700); err != nil {
			return m, fmt.Errorf("create data root: %w", err)
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		if err := atomicfile.Write(path, b, 0o600); err != nil {
			return m, fmt.Errorf("record id mapping: %w", err)
		}
		return m, nil
	default:
		return m, fmt.Errorf("read %s: %w", path, err)
	}
}

// writeSubIDMaps maps pid's user namespace through newuidmap and
// newgidmap (an unprivileged process may only map its own ids itself).
func writeSubIDMaps(pid int, m subIDs) error {
	n := m.size()
	for _, t := range []struct {
		prog      string
		own, base int
	}{{"newuidmap", m.UID, m.SubUID[0]}, {"newgidmap", m.GID, m.SubGID[0]}} {
		args := []string{strconv.Itoa(pid), "0", strconv.Itoa(t.own), "1"}
		if n > 1 {
			args = append(args, "1", strconv.Itoa(t.base), strconv.Itoa(n-1))
		}
		out, err := exec.Command(t.prog, args...).CombinedOutput()
		if err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				return fmt.Errorf("%s not found: rootless sandboxes need newuidmap and newgidmap (Debian package uidmap)", t.prog)
			}
			return fmt.Errorf("%s %s: %v: %s", t.prog, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
