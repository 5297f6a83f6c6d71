// Package dns is nucleus's embedded resolver: one Server per project network
// answers A queries for the network's service names from an in-memory record
// set, forwards every other name to upstream resolvers, and feeds the answers
// of allowed domains to egress enforcement before the client sees them.
// It answers only clients of its own subnet (Config.AllowedClients),
// clients with an egress policy only for project names and allowed domains,
// and on an internal network (Config.Internal) nothing but project names
// unless an upstream lies inside the project (scope.go).
//
// The Server always runs in the supervisor's process. Its listening sockets
// may live in another network namespace (ListenInNetns), but forwarding
// sockets are created in the host namespace, so a host loopback stub resolver
// such as 127.0.0.53 keeps working for sandboxes.
package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
)

// Config configures a Server. The zero value forwards to the host's resolvers.
type Config struct {
	// Upstreams are resolver addresses ("192.0.2.1" or "192.0.2.1:5353");
	// empty means the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is read when Upstreams is empty; "" means /etc/resolv.conf.
	ResolvConf string
	// Timeout bounds one attempt against one upstream; 0 means 2s.
	Timeout time.Duration
	// TTL of answers for local records; 0 means 5s. Kept small so that a
	// restarted replica's new address is picked up quickly.
	TTL time.Duration
	// AllowedClients are the source prefixes that get answers; everyone
	// else gets REFUSED. Empty means: the subnets of the interfaces that
	// carry each listen address, looked up in the listener's namespace when
	// it starts (the gateway 10.89.0.1/24 serves 10.89.0.0/24; 127.0.0.1
	// serves 127.0.0.0/8). A listener on 0.0.0.0 then serves anyone.
	AllowedClients []netip.Prefix
	// Internal: the network has no way out, so neither do its names. Only
	// project names are answered; any other name gets REFUSED and is
	// forwarded only to upstreams inside InternalUpstreams (the project's
	// own sandboxes), never elsewhere. See SetInternal.
	Internal          bool
	InternalUpstreams []netip.Prefix
	// Mark, when not 0, is set (SO_MARK, needs CAP_NET_ADMIN) on every
	// forwarding socket, so the host's firewall can tell whose resolver a
	// query comes from (kernel NAT refuses other projects' marks). Setting
	// it failing fails the attempt: nothing leaves unmarked.
	Mark uint32
}

const (
	defaultTimeout = 2 * time.Second
	defaultTTL     = 5 * time.Second
)

// Server is the embedded resolver. It is safe for concurrent use.
type Server struct {
	cfg       Config
	upstreams atomic.Pointer[upstreamSource] // Config.Upstreams / SetUpstreams
	internal  atomic.Pointer[clientSet]      // nil: not internal; else the upstreams it may use
	mark      atomic.Uint32
	records   atomic.Pointer[recordSet]
	policies  policyTable
	clientUps upstreamTable
	preferred atomic.Int32              // index of the upstream that answered last
	allowed   atomic.Pointer[clientSet] // Config.AllowedClients / SetAllowedClients; nil = per listener

	mu      sync.Mutex
	servers []*mdns.Server
	addrs   []net.Addr
	closed  bool
}

// NewServer returns a Server that answers nothing locally until SetRecords.
func NewServer(cfg Config) *Server {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.TTL <= 0 {
		cfg.TTL = defaultTTL
	}
	s := &Server{cfg: cfg}
	s.upstreams.Store(newUpstreamSource(cfg.Upstreams, cfg.ResolvConf))
	s.records.Store(newRecordSet(nil))
	s.SetAllowedClients(cfg.AllowedClients)
	s.SetInternal(cfg.Internal, cfg.InternalUpstreams)
	s.mark.Store(cfg.Mark)
	return s
}

// ListenAndServe is Listen under the name of the contract; it does not block.
func (s *Server) ListenAndServe(addr string) error { return s.Listen(addr) }

// Listen starts serving UDP and TCP on addr ("IP:PORT") in the current
// network namespace and returns once both sockets are bound. Port 0 picks one
// free port shared by UDP and TCP. A Server may listen on several addresses.
func (s *Server) Listen(addr string) error {
	pc, l, err := bindPair(addr)
	if err != nil {
		return err
	}
	subnets, err := subnetsOf(pc.LocalAddr().(*net.UDPAddr).IP)
	if err != nil {
		pc.Close()
		l.Close()
		return fmt.Errorf("dns listen on %s: find the subnet it serves: %w", addr, err)
	}
	return s.serve(pc, l, subnets)
}

// ListenInNetns is Listen with the sockets created inside the network
// namespace at nsPath (e.g. /proc/PID/ns/net or a pinned netns file). The
// sockets stay in that namespace; the Server keeps running in this process.
func (s *Server) ListenInNetns(nsPath, addr string) error {
	var pc net.PacketConn
	var l net.Listener
	var subnets clientSet
	err := InNetns(nsPath, func() error {
		var err error
		pc, l, err = bindPair(addr)
		if err != nil {
			return err
		}
		if subnets, err = subnetsOf(pc.LocalAddr().(*net.UDPAddr).IP); err != nil {
			pc.Close()
			l.Close()
			return fmt.Errorf("find the subnet it serves: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dns listen on %s in netns %s: %w", addr, nsPath, err)
	}
	return s.serve(pc, l, subnets)
}

// ServeOn serves on sockets bound elsewhere (in a namespace this process
// may not enter: a rootless hub), answering clients of subnet only.
func (s *Server) ServeOn(pc net.PacketConn, l net.Listener, subnet netip.Prefix) error {
	return s.serve(pc, l, clientSet{subnet.Masked()})
}

// Addrs returns the bound UDP addresses (TCP uses the same ones).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// bindPair binds UDP then TCP on the same port. With port 0 the TCP port may
// be taken already; retry a few times with a fresh UDP port.
func bindPair(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns listen address %q: want IP:PORT: %w", addr, err)
	}
	var lastErr error
	for range 8 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns listen udp %s: %w", addr, err)
		}
		tcpAddr := net.JoinHostPort(host, fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
		l, err := net.Listen("tcp", tcpAddr)
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = fmt.Errorf("dns listen tcp %s: %w", tcpAddr, err)
		if port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

// serve answers on pc and l; subnets are the clients served when no
// AllowedClients are set.
func (s *Server) serve(pc net.PacketConn, l net.Listener, subnets clientSet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		pc.Close()
		l.Close()
		return errors.New("dns server closed")
	}
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		allowed := subnets
		if c := s.allowed.Load(); c != nil {
			allowed = *c
		}
		if !allowed.allows(remoteIP(w.RemoteAddr())) {
			refuse(w, req)
			return
		}
		s.handle(w, req)
	})
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	pair := []*mdns.Server{
		{PacketConn: pc, Handler: h, Net: "udp", NotifyStartedFunc: notify},
		{Listener: l, Handler: h, Net: "tcp", NotifyStartedFunc: notify},
	}
	for _, srv := range pair {
		go srv.ActivateAndServe() //nolint:errcheck // returns on Shutdown
	}
	// Wait until both are marked started so that Close can always shut
	// them down (Shutdown refuses a server that has not started yet).
	<-started
	<-started
	s.servers = append(s.servers, pair...)
	s.addrs = append(s.addrs, pc.LocalAddr())
	return nil
}

// Close stops every listener. Queries in flight may still be answered.
func (s *Server) Close() error {
	s.mu.Lock()
	servers := s.servers
	s.servers, s.closed = nil, true
	s.mu.Unlock()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("dns shutdown %s: %w", srv.Net, err))
		}
	}
	return errors.Join(errs...)
}
