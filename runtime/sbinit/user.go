package sbinit

import (
	"bufio"
	"fmt"
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

// lookupUser resolves "uid[:gid]" or "name[:group]" against the sandbox's own
// /etc/passwd and /etc/group (read after pivot_root). "" is root.
func lookupUser(spec string) (identity, error) {
	id := identity{Home: "/"}
	if spec == "" {
		id.Home = "/root"
		return id, nil
	}
	u, g, hasG := strings.Cut(spec, ":")
	if n, err := strconv.ParseUint(u, 10, 32); err == nil {
		id.UID, id.GID = uint32(n), uint32(n)
		if e, ok := findEntry("/etc/passwd", func(f []string) bool { return f[2] == u }); ok {
			id.GID, id.Home = parseU32(e[3]), e[5]
		}
	} else {
		e, ok := findEntry("/etc/passwd", func(f []string) bool { return f[0] == u })
		if !ok || len(e) < 6 {
			return id, fmt.Errorf("user %q: no such user in the sandbox's /etc/passwd", u)
		}
		id.UID, id.GID, id.Home = parseU32(e[2]), parseU32(e[3]), e[5]
	}
	if hasG {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			id.GID = uint32(n)
		} else {
			e, ok := findEntry("/etc/group", func(f []string) bool { return f[0] == g })
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

func findEntry(file string, match func([]string) bool) ([]string, bool) {
	f, err := os.Open(file)
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
