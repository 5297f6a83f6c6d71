package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"nucleus/network/dns"
	"nucleus/spec"
)

// dnsServer is the running embedded resolver of one network.
type dnsServer struct {
	srv   *dns.Server
	addr  string
	owner *Manager // the Manager that started it (Close stops only its own)
}

// dnsServers are the resolvers this process runs, shared by all its
// Managers: the daemon, `down` and a supervisor's passes may use several
// Managers of one root in one process, and whichever removes a network must
// stop its resolver. Otherwise the resolver keeps the gateway address bound
// after the bridge is gone, and a later network that reuses the subnet (in
// any state root) has its queries answered by the stale resolver.
var dnsServers = struct {
	sync.Mutex
	m map[string]*dnsServer
}{m: map[string]*dnsServer{}}

func (m *Manager) dnsKey(n *NetworkState) string {
	return m.root.Run + "|" + n.Project + "/" + n.Name
}

func (m *Manager) dnsOf(n *NetworkState) (*dnsServer, bool) {
	dnsServers.Lock()
	defer dnsServers.Unlock()
	d, ok := dnsServers.m[m.dnsKey(n)]
	return d, ok
}

// ensureDNS starts the network's resolver in this process (a restarted
// supervisor starts it again) and loads its records.
func (m *Manager) ensureDNS(n *NetworkState, b backend) error {
	if _, ok := m.dnsOf(n); !ok {
		nsPath, addr := b.dnsEndpoint(n)
		mark, err := m.resolverMark(n.Project)
		if err != nil {
			return fmt.Errorf("start DNS server of network %s (project %s): %w", n.Name, n.Project, err)
		}
		// Internal mode and mark from the start: no query may leave before
		// refreshDNS has run.
		srv := dns.NewServer(dns.Config{Upstreams: n.Upstreams, Internal: n.Internal,
			InternalUpstreams: m.projectSubnets(n), Mark: mark})
		if rs, ok := b.(rootlessDNS); ok && rs.rootlessDNS(n) {
			err = rs.serveDNS(srv, n, addr)
		} else if nsPath == "" {
			err = srv.Listen(addr)
		} else {
			err = srv.ListenInNetns(nsPath, addr)
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			// Another process of this root (the supervisor, while a one-off
			// `nucleus run` attaches) already serves this network's names.
			return nil
		}
		if err != nil {
			return fmt.Errorf("start DNS server of network %s (project %s) on %s: %w", n.Name, n.Project, addr, err)
		}
		dnsServers.Lock()
		dnsServers.m[m.dnsKey(n)] = &dnsServer{srv: srv, addr: addr, owner: m}
		dnsServers.Unlock()
	}
	m.refreshDNS(n, b)
	return nil
}

// stopDNS stops the network's resolver in this process, whichever Manager
// started it: the network is going away.
func (m *Manager) stopDNS(n *NetworkState) {
	dnsServers.Lock()
	defer dnsServers.Unlock()
	if d, ok := dnsServers.m[m.dnsKey(n)]; ok {
		d.srv.Close()
		delete(dnsServers.m, m.dnsKey(n))
	}
}

// Close stops the DNS servers this Manager started; host objects stay
// (another process may adopt them).
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dnsServers.Lock()
	defer dnsServers.Unlock()
	for k, d := range dnsServers.m {
		if d.owner == m {
			d.srv.Close()
			delete(dnsServers.m, k)
		}
	}
	if u, ok := m.userspace.(*userspaceBackend); ok {
		u.closeHubSockets() // they would keep their hubs' namespaces alive
	}
	return nil
}

// projectSubnets are the subnets of the project's kernel-NAT networks (n
// as given, the others as recorded): on an internal network, the only
// upstreams a query may go to (a DNS service of the project itself). The
// resolver forwards from the host's namespace, where userspace networks'
// subnets are not the project's, so they do not count.
func (m *Manager) projectSubnets(n *NetworkState) []netip.Prefix {
	if !n.Internal {
		return nil
	}
	nets, _ := m.loadProject(n.Project) // unreadable records: fewer upstreams, the safe side
	var out []netip.Prefix
	for _, o := range append(nets, n) {
		if o.Name == n.Name && o != n {
			continue
		}
		if o.Backend != spec.NATKernel {
			continue
		}
		if p, err := netip.ParsePrefix(o.Subnet); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// records are the names of a network: SERVICE (all replicas, round-robin),
// SERVICE-N, aliases, each also with ".PROJECT".
func records(n *NetworkState) map[string][]net.IP {
	rec := map[string][]net.IP{}
	add := func(name string, ip net.IP) {
		for _, nm := range []string{name, name + "." + n.Project} {
			nm = strings.ToLower(nm)
			rec[nm] = append(rec[nm], ip)
		}
	}
	for _, key := range sortedKeys(n.Attachments) {
		a := n.Attachments[key]
		ip := net.ParseIP(a.IP)
		if ip == nil {
			continue
		}
		add(a.Service, ip)
		add(a.Service+"-"+strconv.Itoa(normReplica(a.Replica)), ip)
		for _, al := range a.Aliases {
			add(al, ip)
		}
	}
	return rec
}

// refreshDNS loads the network's records and the egress policies of its
// clients into the running server (if this process runs it).
func (m *Manager) refreshDNS(n *NetworkState, b backend) {
	d, ok := m.dnsOf(n)
	if !ok {
		return
	}
	d.srv.SetRecords(records(n))
	// dns: and internal change live (EnsureNetwork on a hot reload).
	d.srv.SetUpstreams(n.Upstreams)
	d.srv.SetInternal(n.Internal, m.projectSubnets(n))
	withPolicy := map[string]bool{}
	for _, a := range n.Attachments {
		// A service's own dns: list overrides the network's upstreams
		// for the names it resolves outside the project.
		d.srv.SetClientUpstreams(net.ParseIP(a.IP), a.DNS)
		if a.Egress == nil {
			continue
		}
		var domains []string
		for _, r := range a.Egress.Allow {
			if r.Domain != "" {
				domains = append(domains, r.Domain)
			}
		}
		withPolicy[a.IP] = true
		nCopy, aCopy := *n, *a
		d.srv.SetClientPolicy(net.ParseIP(a.IP), domains, func(client net.IP, ips []net.IP, ttl time.Duration) {
			lifetime := max(ttl, m.DomainTTLFloor) + m.DomainGrace
			if err := b.allowResolved(&nCopy, &aCopy, ips, lifetime); err != nil {
				// The answer still goes out; the connection will be refused
				// and counted, which is the safe side.
				_ = err
			}
		})
	}
	for key, ip := range n.Allocs {
		if n.Attachments[key] == nil {
			d.srv.SetClientUpstreams(net.ParseIP(ip), nil)
		}
		if !withPolicy[ip] {
			d.srv.RemoveClientPolicy(net.ParseIP(ip))
		}
	}
}

// rootlessDNS is a backend whose resolver sockets may have to be made by a
// helper (the rootless hub: rootless_hub.go).
type rootlessDNS interface {
	rootlessDNS(n *NetworkState) bool
	serveDNS(srv *dns.Server, n *NetworkState, addr string) error
}
