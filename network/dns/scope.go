package dns

import (
	"net"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Where forwarded queries may go, set while the server runs: the network's
// upstreams (hot reload of `dns:`), whether the network is internal, and
// the mark of the forwarding sockets.
//
// Internal networks: a query name is data. A resolver that forwards every
// unknown name to the host's resolvers (or the network's `dns:`) gives a
// network with no way out a way out, one label at a time. So on an internal
// network only project names resolve; any other name is REFUSED and goes
// nowhere, except to an upstream inside the project itself (a resolver
// running as one of the project's sandboxes, listed in `dns:`), which the
// network may reach anyway.

// SetUpstreams replaces the network's upstreams ("IP" or "IP:PORT"; empty:
// the host's resolv.conf). Queries after it returns use the new list;
// unchanged lists keep their state (the upstream that answered last).
func (s *Server) SetUpstreams(upstreams []string) {
	cur := s.upstreams.Load()
	next := newUpstreamSource(upstreams, s.cfg.ResolvConf)
	if slices.Equal(cur.fixed, next.fixed) {
		return
	}
	s.upstreams.Store(next)
	s.preferred.Store(0)
}

// SetInternal switches the internal mode (Config.Internal): on, names
// outside the record set are REFUSED unless an upstream lies inside one of
// within (the project's own subnets), and then only go there.
func (s *Server) SetInternal(on bool, within []netip.Prefix) {
	if !on {
		s.internal.Store(nil)
		return
	}
	c := clientSet(append([]netip.Prefix{}, within...)) // not nil: nil would allow all
	s.internal.Store(&c)
}

// SetMark sets the mark of forwarding sockets opened from now on
// (Config.Mark); 0: none.
func (s *Server) SetMark(mark uint32) { s.mark.Store(mark) }

// upstreamAllowed reports whether a query may go to upstream ("IP:PORT").
func (s *Server) upstreamAllowed(upstream string) bool {
	within := s.internal.Load()
	if within == nil {
		return true
	}
	host, _, err := net.SplitHostPort(upstream)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && within.allows(ip)
}

// dialer opens the forwarding sockets: with the mark, if any, set before
// the first packet leaves.
func (s *Server) dialer(timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout}
	if mark := s.mark.Load(); mark != 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
			}); err != nil {
				return err
			}
			return serr
		}
	}
	return d
}
