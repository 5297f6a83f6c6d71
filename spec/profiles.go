package spec

import (
	"fmt"
	"slices"
	"strings"
)

// Profiles, as in Compose: a service with profiles runs only when one of
// them is active; a service without profiles always runs; a service named
// on the command line runs (with what it depends on) whatever its
// profiles. The loader drops the services that do not run, so every
// consumer (plan, supervisor, ps) sees one project; a kept service that
// depends on a dropped one is an error naming both.

// Environment variables that activate profiles (comma-separated) when no
// --profile is given; NUCLEUS_PROFILES wins.
const (
	EnvProfiles        = "NUCLEUS_PROFILES"
	EnvComposeProfiles = "COMPOSE_PROFILES"
)

// AllProfiles activates every profile (as in Compose).
const AllProfiles = "*"

// activeProfiles returns the profiles in force: the given ones, else those
// of NUCLEUS_PROFILES or COMPOSE_PROFILES (process environment, then .env).
func (d *decoder) activeProfiles(given []string) []string {
	if len(given) > 0 {
		return given
	}
	for _, env := range []string{EnvProfiles, EnvComposeProfiles} {
		if v, ok := d.lookup(env); ok && strings.TrimSpace(v) != "" {
			var out []string
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					if err := CheckProfileName(p); err != nil {
						d.add(Pos{}, "", env+": "+err.Error())
						continue
					}
					out = append(out, p)
				}
			}
			return out
		}
	}
	return nil
}

// applyProfiles removes the services that do not run under the active
// profiles and the services named on the command line.
func (d *decoder) applyProfiles(p *Project, given, named []string) {
	active := d.activeProfiles(given)
	p.ActiveProfiles = active
	on := map[string]bool{}
	for name, s := range p.Services {
		on[name] = len(s.Profiles) == 0 || slices.Contains(active, AllProfiles) ||
			slices.ContainsFunc(s.Profiles, func(x string) bool { return slices.Contains(active, x) })
	}
	// Named services run with everything they depend on.
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		s, ok := p.Services[n]
		if !ok || seen[n] {
			return
		}
		seen[n], on[n] = true, true
		for dep := range s.DependsOn {
			walk(dep)
		}
	}
	for _, n := range named {
		walk(n)
	}
	for _, name := range d.order {
		s, ok := p.Services[name]
		if !ok || !on[name] {
			continue
		}
		for _, dep := range sortedKeys(s.DependsOn) {
			t, ok := p.Services[dep]
			// required: false: Compose starts the dependent without it.
			if ok && !on[dep] && s.DependsOn[dep].IsRequired() {
				path := "services." + name + ".depends_on." + dep
				d.add(d.at(path), "services."+name+".depends_on",
					fmt.Sprintf("service %s depends on service %s, which is not enabled: its profiles (%s) are not active; activate one with --profile or %s, or name %s on the command line",
						name, dep, strings.Join(t.Profiles, ", "), EnvComposeProfiles, dep))
			}
		}
	}
	for name := range p.Services {
		if !on[name] {
			p.Disabled = append(p.Disabled, name)
			delete(p.Services, name)
		}
	}
	slices.Sort(p.Disabled)
}
