package spec

import (
	"fmt"
	"strings"
)

// ValidServiceName is Compose's rule for service names ([a-zA-Z0-9._-])
// narrowed to what is also a DNS name, since every service is one on its
// networks: a letter or digit first, no empty label ("a..b"), no '.' or
// '-' last, at most 63 characters (one DNS label's length, which keeps
// derived names such as the replica's "SERVICE-N" and the sandbox ID
// "PROJECT.SERVICE.N" within the kernel's and systemd's limits). A '.'
// stays unambiguous in IDs: the project (never holding one) ends at the
// first '.', the replica index starts after the last (reconcile.ParseID).
func ValidServiceName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i == 0 || i == len(s)-1:
			return false
		case c == '_' || c == '-':
		case c == '.' && s[i-1] != '.':
		default:
			return false
		}
	}
	return true
}

// serviceFold finds a service by name as DNS compares names: ignoring case.
func serviceFold(p *Project, name string) (*Service, bool) {
	if s, ok := p.Services[name]; ok {
		return s, true
	}
	for n, s := range p.Services {
		if strings.EqualFold(n, name) {
			return s, true
		}
	}
	return nil, false
}

// checkServiceDNSNames: every service answers as SERVICE and
// SERVICE.PROJECT on its networks, and DNS ignores case, so two services
// whose names differ only in case, or a dotted name equal to another
// service's SERVICE.PROJECT, would answer for each other.
func (d *decoder) checkServiceDNSNames(p *Project) {
	seen := map[string]string{}
	for _, s := range d.order {
		l := strings.ToLower(s)
		if o, dup := seen[l]; dup {
			d.add(d.at("services."+s), "services."+s, fmt.Sprintf("service names %q and %q differ only in case; their DNS names do not, so rename one of them", o, s))
			continue
		}
		seen[l] = s
	}
	for _, s := range d.order {
		base, suffix, dotted := strings.Cut(s, ".")
		if !dotted || !strings.EqualFold(suffix, p.Name) {
			continue
		}
		if o, ok := serviceFold(p, base); ok {
			d.add(d.at("services."+s), "services."+s, fmt.Sprintf("service name %q is also the DNS name %s.%s of service %s; rename one of them", s, o.Name, p.Name, o.Name))
		}
	}
}
