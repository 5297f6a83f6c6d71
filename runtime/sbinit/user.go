package sbinit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// identity is the workload's user inside the sandbox.
type identity struct {
	UID, GID uint32
	Groups   []uint32
	Home     string
}

// OpenEtc opens a file of the sandbox's /etc by its absolute path
// ("/etc/passwd"); a missing file reads as empty.
type OpenEtc func(name string) (io.ReadCloser, error)

// LookupIDs resolves a service's user: ("uid[:gid]" or "name[:group]")
// to its uid and gid inside the sandbox, reading /etc/passwd and /etc/group
// through open, as the init does after pivot_root. The host side uses it to
// chown :U volumes to the workload's user before the init runs.
func LookupIDs(user string, open OpenEtc) (uid, gid uint32, err error) {
	id, err := lookupUserIn(user, open)
	return id.UID, id.GID, err
}

// lookupUser resolves "uid[:gid]" or "name[:group]" against the sandbox's own
// /etc/passwd and /etc/group (read after pivot_root). "" is root.
func lookupUser(spec string) (identity, error) {
	return lookupUserIn(spec, func(name string) (io.ReadCloser, error) { return os.Open(name) })
}

func lookupUserIn(spec string, open OpenEtc) (identity, error) {
	id := identity{Home: "/"}
	if spec == "" {
		id.Home = "/root"
		return id, nil
	}
	u, g, hasG := strings.Cut(spec, ":")
	if n, err := strconv.ParseUint(u, 10, 32); err == nil {
		id.UID, id.GID = uint32(n), uint32(n)
		if e, ok := findEntry(open, "/etc/passwd", func(f []string) bool { return f[2] == u }); ok {
			id.GID, id.Home = parseU32(e[3]), e[5]
		}
	} else {
		e, ok := findEntry(open, "/etc/passwd", func(f []string) bool { return f[0] == u })
		if !ok || len(e) < 6 {
			return id, fmt.Errorf("user %q: no such user in the sandbox's /etc/passwd", u)
		}
		id.UID, id.GID, id.Home = parseU32(e[2]), parseU32(e[3]), e[5]
	}
	if hasG {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			id.GID = uint32(n)
		} else {
			e, ok := findEntry(open, "/etc/group", func(f []string) bool { return f[0] == g })
			if !ok {
				return id, fmt.Errorf("group %q: no such group in the sandbox's /etc/group", g)
			}
			id.GID = parseU32(e[2])
		}
	}
	id.Groups = []uint32{id.GID}
	return id, nil
}

func parseU32(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

func findEntry(open OpenEtc, file string, match func([]string) bool) ([]string, bool) {
	f, err := open(file)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 4 && match(fields) {
			return fields, true
		}
	}
	return nil, false
}
