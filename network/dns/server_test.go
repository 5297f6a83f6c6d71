package dns

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"nucleus/internal/testutil"
)

func ips(s ...string) []net.IP {
	var out []net.IP
	for _, x := range s {
		out = append(out, net.ParseIP(x))
	}
	return out
}

func TestLocalNamesAnswerAOverUDPAndTCP(t *testing.T) {
	up := startUpstream(t, nxdomain)
	s, addr := startServer(t, Config{Upstreams: []string{up}})
	s.SetRecords(map[string][]net.IP{
		"web":       ips("10.89.0.2"),
		"Web.Shop":  ips("10.89.0.2"),
		"db-2":      ips("10.89.0.4"),
		"cache.":    ips("10.89.0.5"),
		"frontdoor": ips("10.89.0.2"), // alias
	})
	for _, netw := range []string{"udp", "tcp"} {
		for name, want := range map[string]string{
			"web": "10.89.0.2", "WEB.shop": "10.89.0.2", "db-2": "10.89.0.4",
			"cache": "10.89.0.5", "frontdoor": "10.89.0.2",
		} {
			m := query(t, netw, addr, name, mdns.TypeA)
			if m.Rcode != mdns.RcodeSuccess || !slices.Equal(aAnswers(m), []string{want}) {
				t.Errorf("%s A %s: rcode %s answers %v, want %s", netw, name, mdns.RcodeToString[m.Rcode], aAnswers(m), want)
			}
			if len(m.Answer) == 1 && m.Answer[0].Header().Ttl != 5 {
				t.Errorf("%s A %s: TTL %d, want 5", netw, name, m.Answer[0].Header().Ttl)
			}
		}
	}
	m := query(t, "udp", addr, "web", mdns.TypeAAAA)
	if m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 0 {
		t.Errorf("AAAA web: rcode %s, %d answers; want NOERROR and none", mdns.RcodeToString[m.Rcode], len(m.Answer))
	}
}

func TestRoundRobinAcrossReplicas(t *testing.T) {
	s, addr := startServer(t, Config{Upstreams: []string{startUpstream(t, nxdomain)}})
	s.SetRecords(map[string][]net.IP{"web": ips("10.89.0.2", "10.89.0.3", "10.89.0.4")})
	seen := map[string]int{}
	for range 6 {
		got := aAnswers(query(t, "udp", addr, "web", mdns.TypeA))
		if len(got) != 3 {
			t.Fatalf("want all 3 replicas in each answer, got %v", got)
		}
		seen[got[0]]++
	}
	for _, ip := range []string{"10.89.0.2", "10.89.0.3", "10.89.0.4"} {
		if seen[ip] != 2 {
			t.Errorf("first answer counts %v: want each replica first exactly twice", seen)
		}
	}
}

func TestSetRecordsReplacesWholeSet(t *testing.T) {
	s, addr := startServer(t, Config{Upstreams: []string{startUpstream(t, nxdomain)}})
	s.SetRecords(map[string][]net.IP{"old": ips("10.89.0.2")})
	s.SetRecords(map[string][]net.IP{"new": ips("10.89.0.3")})
	if m := query(t, "udp", addr, "old", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Errorf("removed name: rcode %s, want NXDOMAIN from upstream", mdns.RcodeToString[m.Rcode])
	}
	if got := aAnswers(query(t, "udp", addr, "new", mdns.TypeA)); !slices.Equal(got, []string{"10.89.0.3"}) {
		t.Errorf("new name: %v", got)
	}
}

func TestForwardsOtherNamesOverUDPAndTCP(t *testing.T) {
	up := startUpstream(t, answerA("198.18.0.9", 60))
	_, addr := startServer(t, Config{Upstreams: []string{up}})
	for _, netw := range []string{"udp", "tcp"} {
		m := query(t, netw, addr, "outside.example", mdns.TypeA)
		if got := aAnswers(m); !slices.Equal(got, []string{"198.18.0.9"}) {
			t.Errorf("%s: forwarded answer %v, want 198.18.0.9", netw, got)
		}
	}
}

// silentUpstream binds a UDP port that never answers: every query times out.
func silentUpstream(t *testing.T) string {
	addr, _ := countingSilentUpstream(t)
	return addr
}

// countingSilentUpstream is silentUpstream that counts the queries it got.
func countingSilentUpstream(t *testing.T) (string, *atomic.Int32) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String(), &n
}

// closedPort returns a loopback UDP address with nothing bound to it.
func closedPort(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestFallsBackAcrossUpstreams(t *testing.T) {
	var servfails atomic.Int32
	servfail := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		servfails.Add(1)
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeServerFailure)
		w.WriteMsg(m)
	})
	good := startUpstream(t, answerA("198.18.0.7", 60))
	silent, silentQueries := countingSilentUpstream(t)
	_, addr := startServer(t, Config{
		Upstreams: []string{silent, closedPort(t), servfail, good},
		Timeout:   200 * time.Millisecond,
	})
	m := query(t, "udp", addr, "x.example", mdns.TypeA)
	if got := aAnswers(m); !slices.Equal(got, []string{"198.18.0.7"}) {
		t.Errorf("answer %v rcode %s: want the last upstream's 198.18.0.7", got, mdns.RcodeToString[m.Rcode])
	}
	// The dead upstreams are not tried (and waited for) again on the next
	// query: counted at the upstreams, not timed, so load cannot flake it.
	silentBefore, servfailBefore := silentQueries.Load(), servfails.Load()
	if silentBefore == 0 || servfailBefore == 0 {
		t.Fatalf("first query reached silent %d and servfail %d times; want both tried", silentBefore, servfailBefore)
	}
	if got := aAnswers(query(t, "udp", addr, "y.example", mdns.TypeA)); !slices.Equal(got, []string{"198.18.0.7"}) {
		t.Errorf("second query: %v", got)
	}
	if silentQueries.Load() != silentBefore || servfails.Load() != servfailBefore {
		t.Errorf("second query tried the failed upstreams again (silent %d→%d, servfail %d→%d): the answering upstream should be tried first",
			silentBefore, silentQueries.Load(), servfailBefore, servfails.Load())
	}
}

func TestUpstreamFailureGivesServfail(t *testing.T) {
	_, addr := startServer(t, Config{
		Upstreams: []string{silentUpstream(t), closedPort(t)},
		Timeout:   200 * time.Millisecond,
	})
	start := time.Now()
	m := query(t, "udp", addr, "x.example", mdns.TypeA)
	if m.Rcode != mdns.RcodeServerFailure {
		t.Errorf("rcode %s, want SERVFAIL", mdns.RcodeToString[m.Rcode])
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("SERVFAIL took %v; per-upstream timeout not applied", d)
	}
}

func TestTruncationOverUDPAndFullAnswerOverTCP(t *testing.T) {
	var many []net.IP
	for i := range 100 {
		many = append(many, net.IPv4(10, 89, 1, byte(i)))
	}
	// The upstream answers big names only over TCP, like a real server
	// truncating over UDP, so the forwarder must retry over TCP.
	big := func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		for _, ip := range many {
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: ip})
		}
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			m.Truncate(mdns.MinMsgSize)
		}
		w.WriteMsg(m)
	}
	s, addr := startServer(t, Config{Upstreams: []string{startUpstream(t, big)}})
	s.SetRecords(map[string][]net.IP{"web": many})
	for _, name := range []string{"web", "big.example"} {
		udp := query(t, "udp", addr, name, mdns.TypeA)
		if !udp.Truncated || len(udp.Answer) >= 100 {
			t.Errorf("%s over UDP: truncated=%v with %d answers; want TC set and fewer answers", name, udp.Truncated, len(udp.Answer))
		}
		tcp := query(t, "tcp", addr, name, mdns.TypeA)
		if tcp.Truncated || len(tcp.Answer) != 100 {
			t.Errorf("%s over TCP: truncated=%v with %d answers; want all 100", name, tcp.Truncated, len(tcp.Answer))
		}
	}
}

// TestHostResolvConfFallback: without configured upstreams the server uses
// the nameservers of resolv.conf, on port 53 as a host stub resolver would
// listen, and follows edits of that file.
func TestHostResolvConfFallback(t *testing.T) {
	testutil.RequireRoot(t) // binds port 53 on a loopback address
	// Two stub resolvers on port 53 of random loopback addresses, like
	// systemd-resolved's 127.0.0.53 (which may be running, so not that one).
	var stubA, stubB string
	for stubA == "" {
		ip := fmt.Sprintf("127.%d.%d.", 100+rand.IntN(100), rand.IntN(250))
		a, errA := net.ListenPacket("udp", ip+"1:53")
		b, errB := net.ListenPacket("udp", ip+"2:53")
		if errA == nil && errB == nil {
			stubA, stubB = ip+"1", ip+"2"
		}
		for _, c := range []net.PacketConn{a, b} {
			if c != nil {
				c.Close()
			}
		}
	}
	startStub := func(ip, answer string) {
		h := answerA(answer, 60)
		pc, err := net.ListenPacket("udp", ip+":53")
		if err != nil {
			t.Fatal(err)
		}
		srv := &mdns.Server{PacketConn: pc, Handler: h}
		testutil.StartDNS(t, srv)
	}
	startStub(stubA, "198.18.0.1")
	startStub(stubB, "198.18.0.2")
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(rc, []byte("# generated\nnameserver "+stubA+"\noptions edns0\n"), 0o644)
	_, addr := startServer(t, Config{ResolvConf: rc})
	if got := aAnswers(query(t, "udp", addr, "a.example", mdns.TypeA)); !slices.Equal(got, []string{"198.18.0.1"}) {
		t.Fatalf("via %s: %v", stubA, got)
	}
	os.WriteFile(rc, []byte("nameserver "+stubB+"\n"), 0o644)
	future := time.Now().Add(time.Hour)
	os.Chtimes(rc, future, future) // make the edit visible even within one mtime tick
	if got := aAnswers(query(t, "udp", addr, "a.example", mdns.TypeA)); !slices.Equal(got, []string{"198.18.0.2"}) {
		t.Fatalf("after editing resolv.conf to %s: %v", stubB, got)
	}
}

func TestClientPolicyCallsOnAllowBeforeAnswering(t *testing.T) {
	up := startUpstream(t, answerA("198.18.0.9", 30))
	s, addr := startServer(t, Config{Upstreams: []string{up}})
	client := net.ParseIP("127.0.0.1")
	var calls atomic.Int32
	var done atomic.Bool
	var gotTTL atomic.Int64
	s.SetClientPolicy(client, []string{"api.example", "*.cdn.example"}, func(c net.IP, got []net.IP, ttl time.Duration) {
		calls.Add(1)
		if !c.Equal(client) || len(got) != 1 || !got[0].Equal(net.ParseIP("198.18.0.9")) {
			t.Errorf("onAllow(%v, %v): want client %v and [198.18.0.9]", c, got, client)
		}
		gotTTL.Store(int64(ttl))
		time.Sleep(150 * time.Millisecond) // an nftables update taking its time
		done.Store(true)
	})
	for _, netw := range []string{"udp", "tcp"} {
		for _, name := range []string{"api.example", "img.cdn.example", "a.b.cdn.example"} {
			done.Store(false)
			before := calls.Load()
			m := query(t, netw, addr, name, mdns.TypeA)
			if !done.Load() || calls.Load() != before+1 {
				t.Errorf("%s %s: answer arrived before onAllow completed (calls %d→%d)", netw, name, before, calls.Load())
			}
			if len(aAnswers(m)) != 1 {
				t.Errorf("%s %s: answer %v", netw, name, aAnswers(m))
			}
		}
	}
	if time.Duration(gotTTL.Load()) != 30*time.Second {
		t.Errorf("ttl passed to onAllow %v, want the answer's 30s", time.Duration(gotTTL.Load()))
	}
	before := calls.Load()
	for _, name := range []string{"evil.example", "cdn.example", "api.example.evil", "xapi.example"} {
		m := query(t, "udp", addr, name, mdns.TypeA)
		if m.Rcode != mdns.RcodeRefused || len(m.Answer) != 0 {
			t.Errorf("disallowed %s: rcode %s answers %v, want REFUSED", name, mdns.RcodeToString[m.Rcode], aAnswers(m))
		}
	}
	if calls.Load() != before {
		t.Errorf("onAllow called %d times for names that are not allowed", calls.Load()-before)
	}
}

// TestClientPolicyDoesNotForwardOtherNames: a client with an egress policy
// must not be able to tunnel data out in query names, so names that are
// neither project names nor allowed never reach an upstream.
func TestClientPolicyDoesNotForwardOtherNames(t *testing.T) {
	var seen sync.Map
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		seen.Store(strings.ToLower(r.Question[0].Name), true)
		answerA("198.18.0.9", 30)(w, r)
	})
	s, addr := startServer(t, Config{Upstreams: []string{up}})
	s.SetRecords(map[string][]net.IP{"web": ips("10.89.0.2")})
	s.SetClientPolicy(net.ParseIP("127.0.0.1"), []string{"api.example"}, func(net.IP, []net.IP, time.Duration) {})
	secret := "c2VjcmV0LWRhdGE.exfil.example"
	for _, netw := range []string{"udp", "tcp"} {
		if m := query(t, netw, addr, secret, mdns.TypeTXT); m.Rcode != mdns.RcodeRefused {
			t.Errorf("%s %s: rcode %s, want REFUSED", netw, secret, mdns.RcodeToString[m.Rcode])
		}
		if got := aAnswers(query(t, netw, addr, "web", mdns.TypeA)); !slices.Equal(got, []string{"10.89.0.2"}) {
			t.Errorf("%s project name web: %v, want 10.89.0.2", netw, got)
		}
		if got := aAnswers(query(t, netw, addr, "api.example", mdns.TypeA)); !slices.Equal(got, []string{"198.18.0.9"}) {
			t.Errorf("%s allowed api.example: %v", netw, got)
		}
	}
	if _, ok := seen.Load(mdns.Fqdn(secret)); ok {
		t.Errorf("%s was forwarded upstream", secret)
	}
	if _, ok := seen.Load("api.example."); !ok {
		t.Errorf("allowed api.example was not forwarded")
	}
	// A client without a policy still resolves anything.
	if m, err := tryQuery("udp", addr, secret, mdns.TypeA, net.ParseIP("127.0.0.2")); err != nil || m.Rcode != mdns.RcodeSuccess {
		t.Errorf("unrestricted client: %v %v, want NOERROR", m, err)
	}
}

// TestAllowedClientsRefusesOthers: only the configured client prefixes get
// answers (local or forwarded); others get REFUSED and nothing is forwarded.
func TestAllowedClientsRefusesOthers(t *testing.T) {
	var forwarded atomic.Int32
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		forwarded.Add(1)
		answerA("198.18.0.9", 30)(w, r)
	})
	s, addr := startServer(t, Config{Upstreams: []string{up},
		AllowedClients: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	s.SetRecords(map[string][]net.IP{"web": ips("10.89.0.2")})
	for _, netw := range []string{"udp", "tcp"} {
		for _, name := range []string{"web", "x.example"} {
			m, err := tryQuery(netw, addr, name, mdns.TypeA, net.ParseIP("127.0.0.3"))
			if err != nil || m.Rcode != mdns.RcodeRefused || len(m.Answer) != 0 {
				t.Errorf("%s %s from 127.0.0.3: %v %v, want REFUSED", netw, name, m, err)
			}
			m, err = tryQuery(netw, addr, name, mdns.TypeA, net.ParseIP("127.0.0.2"))
			if err != nil || len(aAnswers(m)) != 1 {
				t.Errorf("%s %s from allowed 127.0.0.2: %v %v", netw, name, m, err)
			}
		}
	}
	if n := forwarded.Load(); n != 2 {
		t.Errorf("upstream saw %d queries, want 2 (only the allowed client's)", n)
	}
	s.SetAllowedClients(nil) // back to the listener's subnet, 127.0.0.0/8
	if m, err := tryQuery("udp", addr, "web", mdns.TypeA, net.ParseIP("127.0.0.3")); err != nil || len(aAnswers(m)) != 1 {
		t.Errorf("after SetAllowedClients(nil), 127.0.0.3: %v %v", m, err)
	}
}

// TestServesOnlyTheListenersSubnet: a server on a gateway address answers
// its own subnet and refuses a client routed in from elsewhere — the open
// resolver the host's weak-host routing would otherwise make of it.
func TestServesOnlyTheListenersSubnet(t *testing.T) {
	testutil.RequireRoot(t)
	ns := testutil.NewNetns(t)
	// The gateway address with its /24, and a "foreign" source outside the
	// subnet that reaches it the way a LAN neighbour would through the host.
	// (Both on lo: this kernel has no dummy links.)
	err := InNetns(ns, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		for _, a := range []string{"10.89.0.1/24", "198.18.7.2/32"} {
			if err := netlink.AddrAdd(lo, &netlink.Addr{IPNet: mustCIDR(a)}); err != nil {
				return fmt.Errorf("add %s: %w", a, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, answerA("198.18.0.9", 60))
	s, addr := startServerIn(t, ns, "10.89.0.1:0", Config{Upstreams: []string{up}})
	s.SetRecords(map[string][]net.IP{"web": ips("10.89.0.2")})
	for _, netw := range []string{"udp", "tcp"} {
		for _, tc := range []struct {
			from  string
			rcode int
		}{{"10.89.0.1", mdns.RcodeSuccess}, {"198.18.7.2", mdns.RcodeRefused}} {
			var m *mdns.Msg
			err := InNetns(ns, func() error {
				var err error
				m, err = tryQuery(netw, addr, "web", mdns.TypeA, net.ParseIP(tc.from))
				return err
			})
			if err != nil || m.Rcode != tc.rcode {
				t.Errorf("%s from %s: %v %v, want rcode %s", netw, tc.from, m, err, mdns.RcodeToString[tc.rcode])
			}
		}
	}
}

func mustCIDR(s string) *net.IPNet {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}

func TestClientPolicyAppliesOnlyToItsClient(t *testing.T) {
	up := startUpstream(t, answerA("198.18.0.9", 30))
	s, _ := startServer(t, Config{Upstreams: []string{up}})
	// Listen on 0.0.0.0-like breadth is not needed: a second listener on
	// 127.0.0.1 serves both clients, distinguished by source address.
	addr := s.Addrs()[0].String()
	var calls atomic.Int32
	s.SetClientPolicy(net.ParseIP("127.0.0.2"), []string{"api.example"}, func(net.IP, []net.IP, time.Duration) { calls.Add(1) })
	if _, err := tryQuery("udp", addr, "api.example", mdns.TypeA, net.ParseIP("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 0 {
		t.Fatalf("policy of 127.0.0.2 fired for a query from 127.0.0.1")
	}
	if _, err := tryQuery("udp", addr, "api.example", mdns.TypeA, net.ParseIP("127.0.0.2")); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Fatalf("policy of 127.0.0.2 fired %d times for its own query, want 1", calls.Load())
	}
	s.RemoveClientPolicy(net.ParseIP("127.0.0.2"))
	tryQuery("udp", addr, "api.example", mdns.TypeA, net.ParseIP("127.0.0.2"))
	if calls.Load() != 1 {
		t.Fatalf("removed policy still fires")
	}
}

func TestCloseStopsListeners(t *testing.T) {
	s := NewServer(Config{Upstreams: []string{startUpstream(t, nxdomain)}})
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0].String()
	s.SetRecords(map[string][]net.IP{"web": ips("10.89.0.2")})
	query(t, "tcp", addr, "web", mdns.TypeA)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := tryQuery("tcp", addr, "web", mdns.TypeA, nil); err == nil {
		t.Errorf("TCP query still answered after Close")
	}
	// The port is free again: nothing of the server is left bound.
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Errorf("UDP %s still bound after Close: %v", addr, err)
	} else {
		pc.Close()
	}
	if err := s.Listen("127.0.0.1:0"); err == nil {
		t.Errorf("Listen after Close succeeded")
	}
}

// TestListenInNetns: the listener lives inside a namespace the test created
// (reachable only from there) while forwarding still reaches an upstream on
// the host's loopback — the situation of a host stub resolver.
func TestListenInNetns(t *testing.T) {
	testutil.RequireRoot(t)
	ns := testutil.NewNetns(t)
	up := startUpstream(t, answerA("198.18.0.9", 60))
	s, addr := startServerIn(t, ns, "127.0.0.1:0", Config{Upstreams: []string{up}})
	s.SetRecords(map[string][]net.IP{"web": ips("10.89.0.2")})

	for _, name := range []string{"web", "outside.example"} {
		for _, netw := range []string{"udp", "tcp"} {
			m, err := queryInNetns(ns, netw, addr, name)
			if err != nil {
				t.Fatalf("%s %s from inside the namespace: %v", netw, name, err)
			}
			if len(aAnswers(m)) != 1 {
				t.Errorf("%s %s from inside: %v", netw, name, aAnswers(m))
			}
		}
	}
	// The same address in the host namespace is not ours.
	if _, err := tryQuery("tcp", addr, "web", mdns.TypeA, nil); err == nil {
		t.Errorf("server answered on %s in the host namespace; want its sockets only inside the netns", addr)
	}
}

func queryInNetns(ns, netw, addr, name string) (*mdns.Msg, error) {
	var conn net.Conn
	err := InNetns(ns, func() error {
		var err error
		conn, err = net.DialTimeout(netw, addr, 2*time.Second)
		return err
	})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	c := mdns.Client{Net: netw, Timeout: 3 * time.Second}
	req := new(mdns.Msg)
	req.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	m, _, err := c.ExchangeWithConn(req, &mdns.Conn{Conn: conn})
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	return m, nil
}

// TestClientUpstreams: a client with its own upstreams (a service's dns: on
// a network) has other names forwarded there, still resolves project names
// locally, and goes back to the network's upstreams when they are cleared.
func TestClientUpstreams(t *testing.T) {
	netUp := startUpstream(t, answerA("198.18.0.1", 30))
	own := startUpstream(t, answerA("198.18.0.2", 30))
	s, addr := startServer(t, Config{Upstreams: []string{netUp}})
	s.SetRecords(map[string][]net.IP{"web": ips("10.89.0.2")})
	s.SetClientUpstreams(net.ParseIP("127.0.0.2"), []string{own})
	for _, tc := range []struct{ from, name, want string }{
		{"127.0.0.1", "x.example", "198.18.0.1"},
		{"127.0.0.2", "x.example", "198.18.0.2"},
		{"127.0.0.2", "web", "10.89.0.2"},
	} {
		for _, netw := range []string{"udp", "tcp"} {
			m, err := tryQuery(netw, addr, tc.name, mdns.TypeA, net.ParseIP(tc.from))
			if err != nil || !slices.Equal(aAnswers(m), []string{tc.want}) {
				t.Errorf("%s %s from %s: %v %v, want %s", netw, tc.name, tc.from, m, err, tc.want)
			}
		}
	}
	s.SetClientUpstreams(net.ParseIP("127.0.0.2"), nil)
	if m, err := tryQuery("udp", addr, "x.example", mdns.TypeA, net.ParseIP("127.0.0.2")); err != nil || !slices.Equal(aAnswers(m), []string{"198.18.0.1"}) {
		t.Errorf("after clearing, 127.0.0.2: %v %v, want the network's 198.18.0.1", m, err)
	}
}

// TestClientPolicyForwardsOnlyTheQuestion: an egress-restricted client must
// not tunnel data out inside a query for an allowed name — in its ID, the
// case of the name, the authority or additional sections, EDNS0 options or
// an unusual type. The upstream sees a query rebuilt from the question.
func TestClientPolicyForwardsOnlyTheQuestion(t *testing.T) {
	secret := "s3cr3t-d4t4"
	var got []*mdns.Msg
	var mu sync.Mutex
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		mu.Lock()
		got = append(got, r.Copy())
		mu.Unlock()
		answerA("198.18.0.9", 30)(w, r)
	})
	s, addr := startServer(t, Config{Upstreams: []string{up}})
	s.SetClientPolicy(net.ParseIP("127.0.0.1"), []string{"api.example"}, func(net.IP, []net.IP, time.Duration) {})
	for _, netw := range []string{"udp", "tcp"} {
		req := new(mdns.Msg)
		req.SetQuestion("ApI.eXaMpLe.", mdns.TypeA)
		req.Id = 0x5eC7
		req.CheckingDisabled = true
		req.Ns = append(req.Ns, &mdns.TXT{Hdr: mdns.RR_Header{Name: secret + ".", Rrtype: mdns.TypeTXT, Class: mdns.ClassINET}, Txt: []string{secret}})
		req.Extra = append(req.Extra, &mdns.TXT{Hdr: mdns.RR_Header{Name: "x.", Rrtype: mdns.TypeTXT, Class: mdns.ClassINET}, Txt: []string{secret}})
		req.SetEdns0(4096, true)
		opt := req.IsEdns0()
		opt.Option = append(opt.Option, &mdns.EDNS0_LOCAL{Code: 65001, Data: []byte(secret)})
		c := mdns.Client{Net: netw, Timeout: 5 * time.Second}
		m, _, err := c.Exchange(req, addr)
		if err != nil {
			t.Fatalf("%s: %v", netw, err)
		}
		if m.Id != req.Id || len(m.Question) != 1 || m.Question[0].Name != "ApI.eXaMpLe." || !slices.Equal(aAnswers(m), []string{"198.18.0.9"}) {
			t.Errorf("%s: the client's answer lost its ID, question or address: %v", netw, m)
		}
		// An unusual type is a 16-bit channel of its own.
		if m := query(t, netw, addr, "api.example", 65280); m.Rcode != mdns.RcodeRefused {
			t.Errorf("%s: type 65280 for an allowed name: rcode %s, want REFUSED", netw, mdns.RcodeToString[m.Rcode])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("upstream saw %d queries, want 2", len(got))
	}
	for _, r := range got {
		wire, _ := r.Pack()
		if strings.Contains(string(wire), secret) || r.Id == 0x5eC7 || r.CheckingDisabled ||
			len(r.Ns) != 0 || len(r.Answer) != 0 || len(r.Extra) != 1 || r.Question[0].Name != "api.example." {
			t.Errorf("upstream got more than the question: %v", r)
		}
		if opt := r.IsEdns0(); opt == nil || len(opt.Option) != 0 {
			t.Errorf("upstream EDNS0 record: %v, want nucleus's own without options", opt)
		}
	}
}
