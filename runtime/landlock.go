package runtime

import (
	"fmt"
	"maps"
	"os"
	"path"
	"strings"

	"nucleus/runtime/landlock"
	"nucleus/runtime/sbinit"
)

// landlockPlan derives the sandbox's Landlock rules from its mounts, as seen
// from inside (after pivot_root), and compiles them for this kernel; the
// init applies the result (nil for `landlock: off`).
//   - the system view (/usr, /bin, /lib*, /etc, /opt), or for a rootfs
//     (an image's tree) every top-level entry of it but the places the
//     sandbox mounts itself (rootfsSystemDirs): read and execute;
//   - read-write volumes, tmpfs volumes, "/" of a writable root: read and
//     write (no execute unless a custom rule grants it, or a tmpfs asks
//     for exec);
//   - read-only volumes: read and execute, like system directories;
//   - generated files (resolv.conf, hosts): read;
//   - plus runtime/landlock's defaults (/tmp, /run, /dev, /proc, /sys, and
//     "/" list-only: every directory can be listed, no file read).
func landlockPlan(svc *Service, mounts []ResolvedMount, files map[string][]byte) (*sbinit.LandlockPlan, error) {
	var system, writable, readExec, readOnly []string
	if svc.Rootfs != "" {
		var err error
		if system, err = rootfsSystemDirs(svc.Rootfs, mounts); err != nil {
			return nil, err
		}
	} else {
		system = append(system, sbinit.HostSystemDirs...)
	}
	if !svc.ReadOnly {
		// Writes may create top-level entries (mkdir /data), so "/"
		// whole: rules are hierarchical, so this reaches beneath /dev (a
		// tmpfs) too, but it grants no execute.
		writable = append(writable, "/")
	}
	for _, m := range mounts {
		if m.ReadOnly {
			readExec = append(readExec, m.Target)
		} else {
			writable = append(writable, m.Target)
			if m.Type == MountTmpfs && m.Exec { // tmpfs exec: the mount and Landlock both allow it
				readExec = append(readExec, m.Target)
			}
		}
	}
	for p := range files {
		readOnly = append(readOnly, p)
	}
	for _, f := range svc.FileMounts {
		readOnly = append(readOnly, f.Target)
	}
	rules, err := landlock.ForConfig(svc.Security.Landlock, system, writable)
	if err != nil || rules == nil {
		return nil, err
	}
	for _, p := range readExec {
		rules = append(rules, landlock.Rule{Path: p, Access: []string{landlock.Read, landlock.Execute}, Optional: true})
	}
	for _, p := range readOnly {
		rules = append(rules, landlock.Rule{Path: p, Access: []string{landlock.Read}, Optional: true})
	}
	plan, err := landlock.Compile(rules)
	if err != nil {
		return nil, fmt.Errorf("landlock: %w", err)
	}
	out := &sbinit.LandlockPlan{ABI: plan.ABI, Handled: plan.Handled}
	for _, e := range plan.Entries {
		out.Entries = append(out.Entries, sbinit.LandlockEntry{Path: e.Path, Dir: e.Dir, File: e.File, Optional: e.Optional})
	}
	return out, nil
}

// ownMounts are the top-level places of every sandbox that have rules of
// their own (runtime/landlock's defaults): never read-execute from the tree.
var ownMounts = map[string]bool{"dev": true, "proc": true, "sys": true, "tmp": true, "run": true}

// rootfsSystemDirs derives the read-execute places of a rootfs from its
// own top level (what the image ships: /usr, /bin, /lib*, /etc, /opt,
// /app, /root, /var...), instead of granting "/" whole: "/" would reach
// beneath /tmp, /run and the volumes, so a program written there could run.
// Volume targets at the top level are left to their volume's rule, and
// symlinks are skipped.
func rootfsSystemDirs(rootfs string, mounts []ResolvedMount) ([]string, error) {
	ents, err := os.ReadDir(rootfs)
	if err != nil {
		return nil, fmt.Errorf("landlock: list the top level of rootfs %s: %w", rootfs, err)
	}
	skip := maps.Clone(ownMounts)
	for _, m := range mounts {
		if d, rest, _ := strings.Cut(strings.TrimPrefix(path.Clean(m.Target), "/"), "/"); rest == "" {
			skip[d] = true
		}
	}
	var out []string
	for _, e := range ents {
		// A top-level symlink (/bin -> usr/bin) leads to a place that has
		// its own entry; followed, it could lead to /tmp.
		if !skip[e.Name()] && e.Type()&os.ModeSymlink == 0 {
			out = append(out, "/"+e.Name())
		}
	}
	return out, nil
}
