package reconcile

import (
	"maps"

	"nucleus/spec"
)

// fieldChange is one field-level difference between the configuration a
// replica runs and the desired one (the shape of spec.Change, with its
// class reduced to "can it be applied in place").
type fieldChange struct {
	Path     string
	Live     bool
	Old, New string
}

// cause renders a change for a plan line. Restart-class values are not
// printed (environment values are often secrets), but for the image;
// live values are, because "resources.memory 256M -> 512M" is what the
// user wants to read.
func (c fieldChange) cause() string {
	if c.Path == "image" {
		// References and digests are no secret, and "image changed"
		// would not say that a pull moved the tag.
		return spec.Change{Path: c.Path, Old: c.Old, New: c.New}.String()
	}
	if !c.Live {
		return c.Path + " changed"
	}
	switch {
	case c.Old == "" && c.New == "":
		return c.Path + " changed"
	case c.Old == "":
		return c.Path + " set to " + c.New
	case c.New == "":
		return c.Path + " removed (was " + c.Old + ")"
	}
	return c.Path + " " + c.Old + " -> " + c.New
}

// liveOnly reports whether desired differs from applied in live fields only,
// checked by hash rather than trusted from the diff: the applied
// configuration with every live field taken from desired must hash like
// desired. Anything the diff might miss therefore ends in a restart, never
// in an in-place update that leaves the old configuration running.
func liveOnly(applied, desired *spec.Service) bool {
	p := withLiveFields(applied, desired)
	return serviceHash(&p) == serviceHash(desired)
}

// RestartHash is the hash of s without its live fields: what a replica's
// sandboxes have in common from one in-place update to the next. A
// different one means the replica is replaced (the host runtime starts its
// writable layer afresh then).
func RestartHash(s *spec.Service) string {
	blank := &spec.Service{Networks: make(map[string]*spec.ServiceNetwork, len(s.Networks))}
	for name := range s.Networks {
		blank.Networks[name] = &spec.ServiceNetwork{}
	}
	p := withLiveFields(s, blank)
	return serviceHash(&p)
}

// withLiveFields is a copy of base with the live fields of live: resources,
// ports, egress, DNS records, extra hosts and network aliases.
func withLiveFields(base, live *spec.Service) spec.Service {
	applied, desired := base, live
	p := *applied
	p.Resources = desired.Resources
	p.Ports = desired.Ports
	p.Egress = desired.Egress
	p.DNS = desired.DNS
	p.ExtraHosts = desired.ExtraHosts
	if len(applied.Networks) == len(desired.Networks) {
		p.Networks = make(map[string]*spec.ServiceNetwork, len(applied.Networks))
		for name, a := range applied.Networks {
			d, ok := desired.Networks[name]
			if !ok || a == nil || d == nil {
				p.Networks[name] = a
				continue
			}
			n := *a
			n.Aliases = d.Aliases
			p.Networks[name] = &n
		}
	} else {
		p.Networks = maps.Clone(applied.Networks)
	}
	return p
}
