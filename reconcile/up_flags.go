package reconcile

import (
	"time"

	"fmt"
	"maps"
	"slices"
	"strings"

	"nucleus/spec"
)

// UpFlags are Compose's `up` flags that shape one up request.
type UpFlags struct {
	// ForceRecreate restarts the running replicas of the up's services
	// even when their configuration did not change.
	ForceRecreate bool `json:"force_recreate,omitempty"`
	// Asked is when the up was asked for (set by SetUpFlags): replicas
	// started since are new already.
	Asked time.Time `json:"asked,omitzero"`
	// NoDeps starts only the named services, not what they depend on.
	NoDeps bool `json:"no_deps,omitempty"`
	// Scale overrides replicas per service until the next up.
	Scale map[string]int `json:"scale,omitempty"`
}

// CheckScale says what is wrong with a --scale map for p: a service the
// project lacks, a count out of range, or more than one replica of a
// service that publishes a fixed host port or has a static address.
func CheckScale(p *spec.Project, scale map[string]int) error {
	var errs []string
	for _, name := range slices.Sorted(maps.Keys(scale)) {
		n, s := scale[name], p.Services[name]
		switch {
		case s == nil:
			errs = append(errs, fmt.Sprintf("--scale %s=%d: no such service in project %s (services: %s)",
				name, n, p.Name, strings.Join(slices.Sorted(maps.Keys(p.Services)), ", ")))
		case n < 1 || n > 1000:
			errs = append(errs, fmt.Sprintf("--scale %s=%d: expected 1 to 1000 replicas (to run none, stop it: nucleus stop %s)", name, n, name))
		case n > 1 && hostPort(s) != "":
			errs = append(errs, fmt.Sprintf("--scale %s=%d: only one replica can bind host port %s; leave out the host port in the file or scale to 1", name, n, hostPort(s)))
		case n > 1 && staticAddress(s):
			errs = append(errs, fmt.Sprintf("--scale %s=%d: a static address cannot be shared by %d replicas", name, n, n))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// hostPort is the first published host port of s ("" for none), which
// spec's validation lets only one replica have.
func hostPort(s *spec.Service) string {
	for _, p := range s.Ports {
		if p.Published != 0 {
			return fmt.Sprintf("%d/%s", p.Published, p.Protocol)
		}
	}
	return ""
}

func staticAddress(s *spec.Service) bool {
	for _, a := range s.Networks {
		if a != nil && a.IPv4Address != "" {
			return true
		}
	}
	return false
}

// applyScale returns p with the replicas of the services in scale replaced
// (copies: p itself is not changed).
func applyScale(p *spec.Project, scale map[string]int) *spec.Project {
	if len(scale) == 0 {
		return p
	}
	q := *p
	q.Services = maps.Clone(p.Services)
	for name, n := range scale {
		if s := q.Services[name]; s != nil {
			c := *s
			c.Replicas = n
			q.Services[name] = &c
		}
	}
	return &q
}

// SelectOnly is SelectServices without the dependencies (up --no-deps):
// the named services, their depends_on entries on services left out dropped,
// so they start without waiting for what is not selected.
func SelectOnly(p *spec.Project, names []string) (*spec.Project, error) {
	if _, err := SelectServices(p, names); err != nil || len(names) == 0 {
		return p, err
	}
	q := *p
	q.Services = map[string]*spec.Service{}
	for _, n := range names {
		s := *p.Services[n]
		s.DependsOn = maps.Clone(s.DependsOn)
		maps.DeleteFunc(s.DependsOn, func(d string, _ spec.Dependency) bool { return !slices.Contains(names, d) })
		q.Services[n] = &s
	}
	return &q, nil
}
