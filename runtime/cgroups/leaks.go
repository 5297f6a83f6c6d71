package cgroups

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"nucleus/internal/rootdir"
)

// Leaks lists every cgroup directory of root still present, in every
// mounted cgroup hierarchy (v1 controllers, named hierarchies, v2): the
// per-root directory /nucleus-<rootID> and everything below it, and the
// systemd manager's /nucleus.slice/nucleus-<rootID>.slice with its scopes. After all
// sandboxes of root are deleted the list is empty.
func Leaks(root rootdir.Root) ([]string, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	var tops []string
	for _, m := range mounts {
		// cgroupfs, and the systemd manager's slice of this root
		tops = append(tops, filepath.Join(m, parentName(root)), filepath.Join(m, sliceBase, slicePath(rootSlice(root))))
	}
	for _, top := range tops {
		if _, err := os.Lstat(top); err != nil {
			continue
		}
		err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil // removed while we walk
				}
				return err
			}
			if d.IsDir() && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list cgroups under %s: %w", top, err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// cgroupMounts returns the mount points of all cgroup (v1) and cgroup2 file
// systems of this mount namespace.
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("list cgroup mounts: %w", err)
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "36 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory"
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, x := range fields {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(fields) {
			continue
		}
		if t := fields[sep+1]; t != "cgroup" && t != "cgroup2" {
			continue
		}
		mp := unescapeMount(fields[4])
		if !seen[mp] {
			seen[mp] = true
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("list cgroup mounts: %w", err)
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Of lists the cgroup directories of sandbox id that still exist, in every
// hierarchy and under either manager (a subset of Leaks).
func Of(root rootdir.Root, id string) ([]string, error) {
	all, err := Leaks(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range all {
		for _, name := range []string{id, scopeName(root, id)} {
			if filepath.Base(p) == name || strings.Contains(p, "/"+name+"/") {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}
