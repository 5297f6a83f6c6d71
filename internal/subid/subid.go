// Package subid is the id mapping of an ordinary user's sandboxes, shared
// by the runtime (which maps a sandbox's user namespace) and the image
// unpacker (which unpacks in a namespace mapped the same way, so a tree's
// owners come out right inside): container root = the user, container ids
// 1..N = the start of the user's first range in /etc/subuid and
// /etc/subgid (N at most MaxSubIDs, the same for uids and gids), written
// by the setuid helpers newuidmap and newgidmap (Debian's uidmap).
package subid

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
)

// MaxSubIDs is how many subordinate ids a sandbox maps (1..65535).
const MaxSubIDs = 65535

// IDMap maps Count ids from Inside (in the namespace) to Outside (host).
type IDMap struct{ Inside, Outside, Count int }

// Map is the mapping of one user's sandboxes: UIDs[0] and GIDs[0] map
// root to the user, UIDs[1] and GIDs[1] (when the user has a range) the
// rest.
type Map struct{ UIDs, GIDs []IDMap }

// Files read; variables for tests.
var (
	UIDFile = "/etc/subuid"
	GIDFile = "/etc/subgid"
)

// Sandbox builds the mapping of uid's sandboxes. A user without a range
// in either file gets an error naming the file and the command that adds
// one.
func Sandbox(uid, gid int) (Map, error) {
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	u, err := firstRange(UIDFile, name, uid)
	if err != nil {
		return Map{}, err
	}
	g, err := firstRange(GIDFile, name, uid)
	if err != nil {
		return Map{}, err
	}
	n := min(u[1], g[1], MaxSubIDs)
	return Map{
		UIDs: []IDMap{{0, uid, 1}, {1, u[0], n}},
		GIDs: []IDMap{{0, gid, 1}, {1, g[0], n}},
	}, nil
}

// firstRange returns the first START:COUNT of file given to name or uid.
func firstRange(file, name string, uid int) ([2]int, error) {
	b, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
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
	return [2]int{}, fmt.Errorf("user %s (uid %d) has no subordinate id range in %s, which rootless sandboxes need: "+
		"ask an administrator to run `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s` "+
		"(any free range of 65536 ids)", name, uid, file, name)
}

// Size is the number of container ids mapped.
func (m Map) Size() int {
	n := 0
	for _, r := range m.UIDs {
		n += r.Count
	}
	return n
}

// Write maps pid's user namespace with newuidmap and newgidmap (an
// unprivileged process may map only its own ids itself).
func (m Map) Write(pid int) error {
	for _, t := range []struct {
		tool string
		ids  []IDMap
	}{{"newuidmap", m.UIDs}, {"newgidmap", m.GIDs}} {
		args := []string{strconv.Itoa(pid)}
		for _, r := range t.ids {
			args = append(args, strconv.Itoa(r.Inside), strconv.Itoa(r.Outside), strconv.Itoa(r.Count))
		}
		out, err := exec.Command(t.tool, args...).CombinedOutput()
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s not found: rootless sandboxes need newuidmap and newgidmap (Debian package uidmap)", t.tool)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s (check /etc/subuid and /etc/subgid)", t.tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
