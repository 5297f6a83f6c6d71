package network

import (
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"nucleus/internal/testutil"
)

// Issue 9, DNS: where the embedded resolver's forwarded queries may go.
// Fake upstreams listen on host loopback (127.x) or inside sandboxes the
// test made; nothing is sent anywhere else.

// fakeUpstream answers every query over UDP on addr (in pid's namespace, 0:
// the host) with A 198.18.0.9 and records the names it was asked.
func fakeUpstream(t *testing.T, pid int, addr string) (string, func() []string) {
	t.Helper()
	var pc net.PacketConn
	if err := in(pid, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return }); err != nil {
		t.Fatalf("fake upstream on %s in pid %d: %v", addr, pid, err)
	}
	var mu sync.Mutex
	var seen []string
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		mu.Lock()
		seen = append(seen, strings.ToLower(r.Question[0].Name))
		mu.Unlock()
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA,
			Class: mdns.ClassINET, Ttl: 30}, A: net.ParseIP("198.18.0.9")})
		w.WriteMsg(m)
	})}
	testutil.StartDNS(t, srv)
	return pc.LocalAddr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// ask sends an A query for name from pid's namespace to server:53.
func ask(t *testing.T, pid int, server, name string) *mdns.Msg {
	t.Helper()
	var conn *mdns.Conn
	if err := in(pid, func() error {
		c, err := net.Dial("udp4", net.JoinHostPort(server, "53"))
		conn = &mdns.Conn{Conn: c}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	r, _, err := (&mdns.Client{Timeout: 8 * time.Second}).ExchangeWithConn(q, conn)
	if err != nil {
		t.Fatalf("query %s at %s from pid %d: %v", name, server, pid, err)
	}
	return r
}

// TestInternalNetworkDNSGoesNowhere: `internal: true` means no way out, for
// query names too. Project names resolve; every other name is REFUSED and
// reaches no upstream (the network's dns: here), unless that upstream is a
// sandbox of the project itself.
func TestInternalNetworkDNSGoesNowhere(t *testing.T) {
	e := newEnv(t)
	up, seen := fakeUpstream(t, 0, "127.0.0.77:0")
	ni := e.network("private", func(n *Config) { n.Internal, n.DNS = true, []string{up} })
	app, db := sandbox(t), sandbox(t)
	e.attach(Attachment{Network: "private", Service: "app", PID: app})
	e.attach(Attachment{Network: "private", Service: "db", PID: db})
	if got, err := resolve(app, ni.Gateway, "db"); err != nil || len(got) != 1 {
		t.Fatalf("project name db on the internal network: %v %v", got, err)
	}
	secret := "c2VjcmV0.exfil.example"
	if m := ask(t, app, ni.Gateway, secret); m.Rcode != mdns.RcodeRefused || len(m.Answer) != 0 {
		t.Errorf("%s on the internal network: rcode %s, answers %v; want REFUSED", secret, mdns.RcodeToString[m.Rcode], m.Answer)
	}
	if got := seen(); len(got) != 0 {
		t.Fatalf("the internal network's resolver forwarded %v to its dns: upstream", got)
	}

	// The same upstream on a normal network is asked (the fake works).
	pn := e.network("public", func(n *Config) { n.DNS = []string{up} })
	pub := sandbox(t)
	e.attach(Attachment{Network: "public", Service: "pub", PID: pub})
	if got, err := resolve(pub, pn.Gateway, "ok.example"); err != nil || !slices.Equal(got, []string{"198.18.0.9"}) {
		t.Fatalf("normal network: %v %v", got, err)
	}

	// A resolver of the project itself, on the internal network, may be
	// the upstream: the query stays inside the project.
	core := sandbox(t)
	ci := e.attach(Attachment{Network: "private", Service: "coredns", PID: core})
	_, seenCore := fakeUpstream(t, core, ci.IP+":53")
	e.network("private", func(n *Config) { n.Internal, n.DNS = true, []string{up, ci.IP} })
	if got, err := resolve(app, ni.Gateway, "svc.corp.example"); err != nil || !slices.Equal(got, []string{"198.18.0.9"}) {
		t.Errorf("internal network with the project's own resolver as upstream: %v %v", got, err)
	}
	if got := seenCore(); !slices.Equal(got, []string{"svc.corp.example."}) {
		t.Errorf("the project's own resolver saw %v", got)
	}
	if got := seen(); !slices.Equal(got, []string{"ok.example."}) {
		t.Errorf("the upstream outside the project saw %v, want only the public network's ok.example.", got)
	}
}

// TestDNSChangeTakesEffectLive: changing a network's dns: (hot reload
// calls EnsureNetwork again) sends the next query to the new upstream.
func TestDNSChangeTakesEffectLive(t *testing.T) {
	e := newEnv(t)
	up1, seen1 := fakeUpstream(t, 0, "127.0.0.77:0")
	up2, seen2 := fakeUpstream(t, 0, "127.0.0.78:0")
	ni := e.network("n", func(n *Config) { n.DNS = []string{up1} })
	s := sandbox(t)
	e.attach(Attachment{Network: "n", Service: "app", PID: s})
	if got, err := resolve(s, ni.Gateway, "before.example"); err != nil || len(got) != 1 {
		t.Fatalf("before: %v %v", got, err)
	}
	e.network("n", func(n *Config) { n.DNS = []string{up2} })
	if got, err := resolve(s, ni.Gateway, "after.example"); err != nil || len(got) != 1 {
		t.Fatalf("after: %v %v", got, err)
	}
	if got := seen1(); !slices.Equal(got, []string{"before.example."}) {
		t.Errorf("old upstream %s saw %v; want only before.example.", up1, got)
	}
	if got := seen2(); !slices.Equal(got, []string{"after.example."}) {
		t.Errorf("new upstream %s saw %v; want after.example.", up2, got)
	}
	// Switching internal on live stops forwarding at once.
	e.network("n", func(n *Config) { n.DNS, n.Internal = []string{up2}, true })
	if m := ask(t, s, ni.Gateway, "later.example"); m.Rcode != mdns.RcodeRefused {
		t.Errorf("after internal: true: rcode %s, want REFUSED", mdns.RcodeToString[m.Rcode])
	}
	if got := seen2(); len(got) != 1 {
		t.Errorf("new upstream saw %v after the network became internal", got)
	}
}

// TestResolverDoesNotReachOtherProjects: the resolver runs as root on the
// host, past every table's fromhost rule for other users; a network's dns:
// naming another project's unpublished sandbox (another state root here)
// must not carry queries there. The project's own sandbox as upstream
// still works.
func TestResolverDoesNotReachOtherProjects(t *testing.T) {
	other := newEnv(t)
	other.network("n", nil)
	victim := sandbox(t)
	vi := other.attach(Attachment{Network: "n", Service: "dns", PID: victim})
	vaddr, seenVictim := fakeUpstream(t, victim, vi.IP+":53")
	// Root's own (unmarked) host sockets still reach it: the fake works.
	if _, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(new(mdns.Msg).SetQuestion("root.example.", mdns.TypeA), vaddr); err != nil {
		t.Fatalf("root on the host to %s: %v", vaddr, err)
	}

	e := newEnv(t)
	ni := e.network("n", func(n *Config) { n.DNS = []string{vi.IP} })
	app := sandbox(t)
	e.attach(Attachment{Network: "n", Service: "app", PID: app})
	start := time.Now()
	if m := ask(t, app, ni.Gateway, "probe.example"); m.Rcode == mdns.RcodeSuccess {
		t.Errorf("a query through another project's sandbox as upstream answered: %v", m.Answer)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the refused upstream took %v; want a fast failure", took)
	}
	if got := seenVictim(); !slices.Equal(got, []string{"root.example."}) {
		t.Errorf("the other project's sandbox received %v from this project's resolver", got)
	}

	// The project's own DNS service (a sandbox on network n) as the
	// upstream of its network m.
	core := sandbox(t)
	ci := e.attach(Attachment{Network: "n", Service: "coredns", PID: core})
	_, seenCore := fakeUpstream(t, core, ci.IP+":53")
	mi := e.network("m", func(n *Config) { n.DNS = []string{ci.IP} })
	app2 := sandbox(t)
	e.attach(Attachment{Network: "m", Service: "app2", PID: app2})
	if got, err := resolve(app2, mi.Gateway, "own.example"); err != nil || !slices.Equal(got, []string{"198.18.0.9"}) {
		t.Errorf("own sandbox as upstream: %v %v", got, err)
	}
	if got := seenCore(); !slices.Equal(got, []string{"own.example."}) {
		t.Errorf("own resolver saw %v", got)
	}
}
