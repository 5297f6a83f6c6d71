package reconcile

import (
	"strconv"
	"strings"
)

// Ident is the identity of one replica. It is comparable: the value itself
// is the key of a replica in maps.
type Ident struct {
	Project string
	Service string
	Index   int // 1-based
}

// Name is the display name within the project: "web-2" (also the replica's
// DNS name and the name of its record and log directory in the project's
// directory). The index follows the last '-', so it is unambiguous within
// a project; across projects only ID is.
func (i Ident) Name() string { return i.Service + "-" + strconv.Itoa(i.Index) }

// ID names the replica's sandbox and every host object derived from it
// (state directory, cgroup, systemd scope): "shop.web.2". Project names
// never contain '.' (spec normalises them to [a-z0-9_-]), so the project
// ends at the first '.' and the index starts after the last one, whatever
// the service name holds. Joined with '-' instead, project "shop-web" with
// service "api" and project "shop" with service "web-api" would collide.
func (i Ident) ID() string {
	return i.Project + "." + i.Service + "." + strconv.Itoa(i.Index)
}

// String names the replica for messages: "shop/web-2".
func (i Ident) String() string { return i.Project + "/" + i.Name() }

// ParseID is the inverse of ID. Sandboxes created before IDs had this form
// ("<project>-<service>-<n>") do not parse: their records keep the ID they
// were created with, and nothing recomputes it.
func ParseID(id string) (Ident, bool) {
	project, rest, ok := strings.Cut(id, ".")
	if !ok || project == "" {
		return Ident{}, false
	}
	j := strings.LastIndexByte(rest, '.')
	if j <= 0 {
		return Ident{}, false
	}
	n, err := strconv.Atoi(rest[j+1:])
	if err != nil || n < 1 || strconv.Itoa(n) != rest[j+1:] {
		return Ident{}, false
	}
	return Ident{Project: project, Service: rest[:j], Index: n}, true
}
