package dns

import (
	"net"
	"strings"
	"sync/atomic"

	mdns "github.com/miekg/dns"
)

// recordSet is an immutable name → addresses table; SetRecords swaps in a
// new one atomically so a query never sees a half-applied update.
type recordSet struct {
	names map[string]*entry // lowercase FQDN
}

type entry struct {
	ips  []net.IP // IPv4 only
	next atomic.Uint32
}

func newRecordSet(in map[string][]net.IP) *recordSet {
	rs := &recordSet{names: make(map[string]*entry, len(in))}
	for name, ips := range in {
		key := normalizeName(name)
		if key == "." {
			continue
		}
		e := rs.names[key]
		if e == nil {
			e = &entry{}
			rs.names[key] = e
		}
		for _, ip := range ips {
			if v4 := ip.To4(); v4 != nil {
				e.ips = append(e.ips, v4)
			}
		}
	}
	return rs
}

// SetRecords replaces the whole local record set. Keys are names as the
// caller wants them answered (SERVICE, SERVICE.PROJECT, aliases, SERVICE-2);
// case and a trailing dot do not matter. A name with several addresses is
// answered round-robin.
func (s *Server) SetRecords(records map[string][]net.IP) {
	s.records.Store(newRecordSet(records))
}

// lookup returns the addresses of a local name, rotated by one position per
// call so clients that take the first address spread over the replicas.
func (rs *recordSet) lookup(name string) ([]net.IP, bool) {
	e, ok := rs.names[normalizeName(name)]
	if !ok {
		return nil, false
	}
	n := len(e.ips)
	if n <= 1 {
		return e.ips, true
	}
	start := int((e.next.Add(1) - 1) % uint32(n))
	out := make([]net.IP, 0, n)
	out = append(out, e.ips[start:]...)
	out = append(out, e.ips[:start]...)
	return out, true
}

func normalizeName(name string) string {
	return mdns.Fqdn(strings.ToLower(strings.TrimSpace(name)))
}
