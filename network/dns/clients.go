package dns

import (
	"net"
	"net/netip"
)

// Who may ask: the resolver binds the network's gateway address in the host
// namespace, and with the host's weak-host routing anyone who can route to
// that address (a LAN neighbour, a sandbox of another project) could reach
// it. Only clients inside the network's own subnet get an answer; the rest
// get REFUSED, which is no larger than their query, so the server cannot be
// used as an open resolver or an amplifier, nor to learn the project's names.

// clientSet is the set of source prefixes a listener answers; nil = anyone.
type clientSet []netip.Prefix

func (c clientSet) allows(ip net.IP) bool {
	if c == nil {
		return true
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	for _, p := range c {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// SetAllowedClients replaces the client prefixes every listener answers
// (Config.AllowedClients). An empty list goes back to each listener's
// derived subnets (see Config.AllowedClients).
func (s *Server) SetAllowedClients(prefixes []netip.Prefix) {
	if len(prefixes) == 0 {
		s.allowed.Store(nil)
		return
	}
	c := clientSet(append([]netip.Prefix(nil), prefixes...))
	s.allowed.Store(&c)
}

// subnetsOf returns the subnets of the interfaces (of the current network
// namespace) that carry ip: the clients a listener on ip serves. nil for an
// unspecified ip (0.0.0.0: the caller chose to serve anyone); empty, so
// nobody is served, for an address no interface holds (fail closed).
func subnetsOf(ip net.IP) (clientSet, error) {
	if ip == nil || ip.IsUnspecified() {
		return nil, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := clientSet{}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || !n.IP.Equal(ip) {
			continue
		}
		addr, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ones, _ := n.Mask.Size()
		out = append(out, netip.PrefixFrom(addr.Unmap(), ones).Masked())
	}
	return out, nil
}
