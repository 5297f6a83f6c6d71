package runtime

import (
	"fmt"

	"nucleus/runtime/landlock"
	"nucleus/runtime/sbinit"
)

// landlockPlan derives the sandbox's Landlock rules from its mounts, as seen
// from inside (after pivot_root), and compiles them for this kernel; the
// init applies the result (nil for `landlock: off`).
//   - the system view (/usr, /bin, /lib*, /etc, /opt) or a rootfs' "/":
//     read and execute;
//   - read-write volumes, tmpfs volumes, "/" of a writable root: read and
//     write (no execute unless a custom rule grants it);
//   - read-only volumes: read and execute, like system directories;
//   - generated files (resolv.conf, hosts): read;
//   - plus runtime/landlock's defaults (/tmp, /run, /dev, /proc, /sys, and
//     "/" list-only: every directory can be listed, no file read).
func landlockPlan(svc *Service, mounts []ResolvedMount, files map[string][]byte) (*sbinit.LandlockPlan, error) {
	var system, writable, readExec, readOnly []string
	if svc.Rootfs != "" {
		system = []string{"/"}
	} else {
		system = append(system, sbinit.HostSystemDirs...)
	}
	if !svc.ReadOnly {
		writable = append(writable, "/")
	}
	for _, m := range mounts {
		if m.ReadOnly {
			readExec = append(readExec, m.Target)
		} else {
			writable = append(writable, m.Target)
		}
	}
	for p := range files {
		readOnly = append(readOnly, p)
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
