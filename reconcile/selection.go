package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"nucleus/spec"
)

// SelectServices limits a project to the named services and everything
// they depend on (`nucleus up SERVICE...`). No names means the whole
// project. The result shares the service values with p; only the map is new.
func SelectServices(p *spec.Project, names []string) (*spec.Project, error) {
	if len(names) == 0 {
		return p, nil
	}
	keep := map[string]bool{}
	var unknown []string
	var visit func(string)
	visit = func(n string) {
		if keep[n] {
			return
		}
		s := p.Services[n]
		if s == nil {
			return
		}
		keep[n] = true
		for _, d := range slices.Sorted(maps.Keys(s.DependsOn)) {
			visit(d)
		}
	}
	for _, n := range names {
		if p.Services[n] == nil {
			unknown = append(unknown, n)
			continue
		}
		visit(n)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("no such service in project %s: %s (services: %s)", p.Name,
			strings.Join(unknown, ", "), strings.Join(slices.Sorted(maps.Keys(p.Services)), ", "))
	}
	q := *p
	q.Services = map[string]*spec.Service{}
	for n := range keep {
		q.Services[n] = p.Services[n]
	}
	return &q, nil
}
