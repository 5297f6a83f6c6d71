package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"

	"nucleus/internal/atomicfile"
	"nucleus/internal/keeper"
	"nucleus/internal/rootdir"
	"nucleus/internal/subid"
)

// Rootless mode: nucleus run by an ordinary user (effective uid not 0).
// The sandbox's user namespace then maps container root to the user and
// container ids 1..65535 to the start of the user's subordinate range from
// /etc/subuid and /etc/subgid (internal/subid). Every sandbox of the user shares that one
// range, as rootless Podman does: sandboxes are kept apart by their
// namespaces, not by distinct ids, and a user rarely has more than one
// range. The range in use is recorded in the user's data root
// (subids.json) so that a changed /etc/subuid, which would give the files
// of named volumes to other ids, stops with an error instead.

// Rootless reports whether sandboxes are made the rootless way.
func Rootless() bool { return os.Geteuid() != 0 }

// subIDs is the rootless mapping of one user (internal/subid).
type subIDs struct {
	UID int       `json:"uid"`
	GID int       `json:"gid"`
	Map subid.Map `json:"map"`
}

func subIDsFile(root rootdir.Root) string { return filepath.Join(root.Data, "subids.json") }

// rootlessIDs returns the caller's mapping, recording it in the data root
// on first use and refusing one that differs from the recorded one.
func rootlessIDs(root rootdir.Root) (subIDs, error) {
	m := subIDs{UID: os.Getuid(), GID: os.Getgid()}
	var err error
	if m.Map, err = subid.Sandbox(m.UID, m.GID); err != nil {
		return m, err
	}
	path := subIDsFile(root)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		old, migrate, err := decodeSubIDs(b)
		if err != nil {
			return m, fmt.Errorf("read %s: %w", path, err)
		}
		if !reflect.DeepEqual(old, m) {
			return m, fmt.Errorf("the id mapping of uid %d changed: %s records %+v, %s and %s now give %+v; "+
				"files of named volumes in %s belong to the old ids: restore the old range, or remove %s to accept the new one",
				m.UID, path, old, subid.UIDFile, subid.GIDFile, m, root.Data, path)
		}
		if migrate {
			if err := writeSubIDs(path, m); err != nil {
				return m, err
			}
		}
		return m, nil
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(root.Data, 0o700); err != nil {
			return m, fmt.Errorf("create data root: %w", err)
		}
		return m, writeSubIDs(path, m)
	default:
		return m, fmt.Errorf("read %s: %w", path, err)
	}
}

func writeSubIDs(path string, m subIDs) error {
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("record id mapping: %w", err)
	}
	return nil
}

// subIDsV1 is the record of the first rootless version (before
// internal/subid): each range as [start, count], mapped from container id 1.
type subIDsV1 struct {
	User   string  `json:"user"`
	UID    int     `json:"uid"`
	GID    int     `json:"gid"`
	SubUID *[2]int `json:"subuid"`
	SubGID *[2]int `json:"subgid"`
}

// decodeSubIDs reads a record of either version; migrate is true for the
// old one, which the caller rewrites once it matches.
func decodeSubIDs(b []byte) (m subIDs, migrate bool, err error) {
	var v1 subIDsV1
	if err := json.Unmarshal(b, &v1); err != nil {
		return m, false, err
	}
	if v1.SubUID == nil && v1.SubGID == nil {
		err = json.Unmarshal(b, &m)
		return m, false, err
	}
	if v1.SubUID == nil || v1.SubGID == nil {
		return m, false, fmt.Errorf("old record has subuid %v and subgid %v: expected both [start, count]", v1.SubUID, v1.SubGID)
	}
	// The old mapping: root = the user, then min(counts) ids (at most
	// subid.MaxSubIDs) from each range's start, as subid.Sandbox maps now.
	n := min(v1.SubUID[1], v1.SubGID[1], subid.MaxSubIDs)
	return subIDs{UID: v1.UID, GID: v1.GID, Map: subid.Map{
		UIDs: []subid.IDMap{{Inside: 0, Outside: v1.UID, Count: 1}, {Inside: 1, Outside: v1.SubUID[0], Count: n}},
		GIDs: []subid.IDMap{{Inside: 0, Outside: v1.GID, Count: 1}, {Inside: 1, Outside: v1.SubGID[0], Count: n}},
	}}, true, nil
}

// onlyUser is the mapping of `userns: host` without root: "keep my uid".
// The user's own uid and gid map to themselves and nothing else is mapped
// (no subordinate range needed), so processes inside run as the user, as
// they do on the host.
func onlyUser() subIDs {
	uid, gid := os.Getuid(), os.Getgid()
	return subIDs{UID: uid, GID: gid, Map: subid.Map{UIDs: []subid.IDMap{{Inside: uid, Outside: uid, Count: 1}}, GIDs: []subid.IDMap{{Inside: gid, Outside: gid, Count: 1}}}}
}

// keepsIDs reports whether m maps only the user, to itself (onlyUser):
// the init then runs as the user, not as root, inside.
func (m subIDs) keepsIDs() bool { return len(m.Map.UIDs) == 1 && m.Map.UIDs[0].Inside != 0 }

// workloadUser is the workload's user: the service's, or, where the
// sandbox keeps the user's ids (sub.keepsIDs), the user itself, the only
// user there is inside.
func workloadUser(user string, sub *subIDs) string {
	if user == "" && sub != nil && sub.keepsIDs() {
		return fmt.Sprintf("%d:%d", sub.UID, sub.GID)
	}
	return user
}

// writeMaps maps pid's user namespace as m says: through newuidmap and
// newgidmap, or, when m maps only the user, directly (an unprivileged
// process may map its own ids once setgroups is denied).
func (m subIDs) writeMaps(pid int) error {
	if len(m.Map.UIDs) > 1 {
		return m.Map.Write(pid)
	}
	u, g := m.Map.UIDs[0], m.Map.GIDs[0]
	for _, w := range []struct{ file, data string }{
		{"uid_map", fmt.Sprintf("%d %d 1\n", u.Inside, u.Outside)},
		{"setgroups", "deny"},
		{"gid_map", fmt.Sprintf("%d %d 1\n", g.Inside, g.Outside)},
	} {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/%s", pid, w.file), []byte(w.data), 0); err != nil {
			return fmt.Errorf("map the user's own ids: %w", err)
		}
	}
	return nil
}

// projectUserNSDir is where the keeper of project's user namespace records
// itself.
func projectUserNSDir(root rootdir.Root, project string) string {
	return keeper.ProjectDir(root.Run, project)
}

// ProjectUserNS returns the user namespace that the rootless sandboxes of
// project join (Config.UserNSPath), starting its keeper on first use: it
// maps container root to the user and the rest to the user's range, as a
// sandbox's own namespace would. Sandboxes of one project then share their
// ids' namespace (they are still apart in every other namespace), which
// lets the user wire them to one hub.
func ProjectUserNS(root rootdir.Root, project string) (string, error) {
	if !validID.MatchString(project) {
		return "", fmt.Errorf("project %q: must match %s", project, validID)
	}
	m, err := rootlessIDs(root)
	if err != nil {
		return "", err
	}
	k, err := keeper.Ensure(projectUserNSDir(root, project), m.writeMaps)
	if err != nil {
		return "", fmt.Errorf("project %s: %w", project, err)
	}
	return k.UserNSPath(), nil
}

// StopProjectUserNS ends the keeper of project's user namespace, if any;
// call it once no sandbox of the project is left.
func StopProjectUserNS(root rootdir.Root, project string) error {
	if !validID.MatchString(project) {
		return nil
	}
	err := keeper.Stop(projectUserNSDir(root, project))
	os.Remove(filepath.Join(root.Run, "userns")) // only when empty
	return err
}
