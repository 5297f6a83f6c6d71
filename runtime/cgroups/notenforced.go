package cgroups

import (
	"fmt"
	"strings"
)

// NotEnforced names the limits of r that no cgroup enforces under the
// current manager ("memory", "cpus", "pids", as the file spells them), and
// why; nil when every limit set is enforced.
func NotEnforced(r Resources) (names []string, why string) {
	for _, l := range []struct {
		name string
		set  bool
	}{{"memory", r.Memory > 0}, {"cpus", r.CPUs > 0}, {"pids", r.Pids > 0}} {
		if l.set && !enforced(l.name) {
			names = append(names, l.name)
		}
	}
	if names == nil {
		return nil, ""
	}
	return names, noneReason
}

// Notice is the one line a command prints for service's limits that are
// not enforced ("" when all are): `nucleus: memory, pids limits of web are
// not enforced: no cgroup delegated to uid 1001 on this host (cgroup
// v1/hybrid)`.
func Notice(service string, r Resources) string {
	names, why := NotEnforced(r)
	if names == nil {
		return ""
	}
	what := strings.Join(names, ", ") + " limits of " + service + " are"
	if len(names) == 1 {
		what = names[0] + " limit of " + service + " is"
	}
	return fmt.Sprintf("nucleus: %s not enforced: %s", what, why)
}

// NoneReason is why sandboxes get no cgroup when the manager is None
// (which --cgroup-manager, environment or host fact chose it).
func NoneReason() string { return noneReason }
