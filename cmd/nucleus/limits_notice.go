package main

import (
	"fmt"
	"io"

	"nucleus/reconcile/host"
	"nucleus/runtime/cgroups"
	"nucleus/spec"
)

// printLimitNotices says, one line per service, which of its limits no
// cgroup will enforce and why (cgroups.Notice): printed once by the
// commands that apply or check limits (run, up, validate), so nothing is
// dropped silently.
func printLimitNotices(w io.Writer, svcs ...*spec.Service) {
	for _, s := range svcs {
		if n := cgroups.Notice(s.Name, host.Limits(s.Resources)); n != "" {
			fmt.Fprintln(w, n)
		}
	}
}

// projectServices are p's services sorted by name.
func projectServices(p *spec.Project) []*spec.Service {
	var out []*spec.Service
	for _, n := range serviceNames(p) {
		out = append(out, p.Services[n])
	}
	return out
}
