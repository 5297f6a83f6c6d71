package dns

import (
	"net"
	"os"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// upstreamSource yields the upstream resolver addresses: the configured ones,
// or the nameservers of resolv.conf, re-read when the file changes (hosts
// rewrite it on DHCP renewals and VPN changes).
type upstreamSource struct {
	fixed []string
	path  string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	cached  []string
}

func newUpstreamSource(fixed []string, path string) *upstreamSource {
	if path == "" {
		path = "/etc/resolv.conf"
	}
	u := &upstreamSource{path: path}
	for _, a := range fixed {
		u.fixed = append(u.fixed, withPort(a, "53"))
	}
	return u
}

func (u *upstreamSource) list() []string {
	if len(u.fixed) > 0 {
		return u.fixed
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	st, err := os.Stat(u.path)
	if err != nil {
		return u.cached // keep the last known servers if the file vanished
	}
	if st.ModTime().Equal(u.modTime) && st.Size() == u.size && u.cached != nil {
		return u.cached
	}
	cc, err := mdns.ClientConfigFromFile(u.path)
	if err != nil {
		return u.cached
	}
	servers := make([]string, 0, len(cc.Servers))
	for _, s := range cc.Servers {
		servers = append(servers, withPort(s, cc.Port))
	}
	u.cached, u.modTime, u.size = servers, st.ModTime(), st.Size()
	return servers
}

// withPort accepts "IP", "IP:PORT", "[v6]:PORT" and bare IPv6.
func withPort(addr, port string) string {
	addr = strings.TrimSpace(addr)
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), port)
}
