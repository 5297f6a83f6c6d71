package dns

import (
	"net"
	"sync"
	"sync/atomic"
)

// Per-client upstreams: a service's own `dns:` on a network. Its sandbox
// still asks the network's resolver (project names must resolve), but the
// names the resolver forwards for it go to the service's servers instead of
// the network's.

type clientUpstreams struct {
	ups       []string
	preferred atomic.Int32
}

type upstreamTable struct {
	mu sync.RWMutex
	m  map[string]*clientUpstreams // client IP string
}

// SetClientUpstreams makes the names client asks for (other than project
// names) go to upstreams ("IP" or "IP:PORT") instead of the network's
// upstreams. An empty list goes back to the network's.
func (s *Server) SetClientUpstreams(client net.IP, upstreams []string) {
	key := ipKey(client)
	s.clientUps.mu.Lock()
	defer s.clientUps.mu.Unlock()
	if len(upstreams) == 0 {
		delete(s.clientUps.m, key)
		return
	}
	c := &clientUpstreams{}
	for _, u := range upstreams {
		c.ups = append(c.ups, withPort(u, "53"))
	}
	if s.clientUps.m == nil {
		s.clientUps.m = map[string]*clientUpstreams{}
	}
	s.clientUps.m[key] = c
}

// upstreamsFor returns the upstreams of client and the index to start at.
func (s *Server) upstreamsFor(client net.IP) ([]string, *atomic.Int32) {
	s.clientUps.mu.RLock()
	c := s.clientUps.m[ipKey(client)]
	s.clientUps.mu.RUnlock()
	if c != nil {
		return c.ups, &c.preferred
	}
	return s.upstreams.Load().list(), &s.preferred
}
