package dns

import (
	"net"
	"strings"
	"sync"
	"time"
)

// AllowFunc receives the IPv4 addresses a policy client was just told for an
// allowed name, with the answer's TTL. It runs before the answer is sent, so
// a connection the client opens right after resolving is already permitted.
type AllowFunc func(client net.IP, ips []net.IP, ttl time.Duration)

type policy struct {
	exact    map[string]bool // FQDN
	suffixes []string        // ".example.com." for "*.example.com"
	onAllow  AllowFunc
}

type policyTable struct {
	mu sync.RWMutex
	m  map[string]*policy // client IP string
}

// SetClientPolicy makes queries from client subject to allowedDomains: when
// the client resolves an allowed name ("example.com" exactly, or
// "*.example.com" for any name below it), the answered addresses go to
// onAllow before the answer is returned. Project names (the record set)
// still resolve; any other name gets REFUSED and is not forwarded upstream,
// so a restricted client cannot tunnel data out through DNS queries.
// A nil onAllow removes the client's policy. Calling it again replaces it.
func (s *Server) SetClientPolicy(client net.IP, allowedDomains []string, onAllow func(client net.IP, ips []net.IP, ttl time.Duration)) {
	key := ipKey(client)
	s.policies.mu.Lock()
	defer s.policies.mu.Unlock()
	if onAllow == nil {
		delete(s.policies.m, key)
		return
	}
	p := &policy{exact: map[string]bool{}, onAllow: onAllow}
	for _, d := range allowedDomains {
		d = strings.TrimSpace(d)
		if rest, ok := strings.CutPrefix(d, "*."); ok {
			p.suffixes = append(p.suffixes, "."+normalizeName(rest))
		} else if d != "" {
			p.exact[normalizeName(d)] = true
		}
	}
	if s.policies.m == nil {
		s.policies.m = map[string]*policy{}
	}
	s.policies.m[key] = p
}

// RemoveClientPolicy drops the client's policy (when its sandbox detaches).
func (s *Server) RemoveClientPolicy(client net.IP) {
	s.SetClientPolicy(client, nil, nil)
}

func (t *policyTable) get(client net.IP) *policy {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[ipKey(client)]
}

func (p *policy) allows(name string) bool {
	name = normalizeName(name)
	if p.exact[name] {
		return true
	}
	for _, suf := range p.suffixes {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

func ipKey(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.String()
}
