package runtime

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"nucleus/internal/rootdir"
	"nucleus/runtime/cgroups"
)

// LeakCheck lists host objects of this root's sandboxes that still exist:
// cgroups, sandbox state directories, init processes and mounts under the
// root. An empty list after every sandbox was removed means nothing leaked.
func LeakCheck(root rootdir.Root) ([]string, error) {
	var out []string
	cg, err := cgroups.Leaks(root)
	if err != nil {
		return nil, err
	}
	out = append(out, cg...)
	entries, err := os.ReadDir(filepath.Join(root.Run, "sandboxes"))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("list sandbox state: %w", err)
	}
	for _, e := range entries {
		out = append(out, "state "+filepath.Join(root.Run, "sandboxes", e.Name()))
	}
	for pid, id := range initProcs(root) {
		out = append(out, fmt.Sprintf("process %d (init of sandbox %s)", pid, id))
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := fields[4]
		for _, dir := range []string{root.Run, root.Data} {
			if mp == dir || strings.HasPrefix(mp, dir+"/") {
				out = append(out, "mount "+mp)
			}
		}
	}
	return out, nil
}
