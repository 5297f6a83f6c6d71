package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"nucleus/internal/testutil"
)

// startUpstream runs a DNS server on 127.0.0.1 answering every name in
// answers (lower case, with the final dot) with its address and the given
// TTL (NXDOMAIN otherwise).
func startUpstream(t testing.TB, answers map[string]string, ttl uint32) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		if ip, ok := answers[strings.ToLower(q.Name)]; ok && q.Qtype == mdns.TypeA {
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl}, A: net.ParseIP(ip)})
		} else if !ok {
			m.Rcode = mdns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	testutil.StartDNS(t, srv)
	return pc.LocalAddr().String()
}

func TestEgressRules(t *testing.T) {
	e := newEnv(t)
	// Short lifetimes: TTL 1s, floor 1s, grace 1s => an address learnt from
	// an allowed name stays reachable for 2s.
	e.m.DomainTTLFloor, e.m.DomainGrace = time.Second, time.Second
	o := newOutside(t)
	up := startUpstream(t, map[string]string{"api.test.": o.addr2, "other.test.": o.addr2, "x.wild.test.": o.addr2}, 1)
	ni := e.network("n", func(n *Config) { n.DNS = []string{up} })
	serveEcho(t, o.pid, ":80", "out80:")
	serveEcho(t, o.pid, ":81", "out81:")

	peer := sandbox(t)
	pi := e.attach(Attachment{Network: "n", Service: "peer", PID: peer})
	serveEcho(t, peer, ":5000", "peer:")
	app := sandbox(t)
	e.attach(Attachment{Network: "n", Service: "app", PID: app, Egress: &Egress{Allow: []EgressRule{
		{CIDR: o.addr, PortStart: 80, PortEnd: 80, Protocol: "tcp"},
		{Domain: "api.test"},
		{Domain: "*.wild.test"},
	}}})

	mustTalk(t, app, o.addr+":80", "out80:")   // allowed address and port
	mustTalk(t, app, pi.IP+":5000", "peer:")   // peers
	refusedQuickly(t, app, o.addr+":81")       // port not allowed
	refusedQuickly(t, app, o.addr2+":80")      // address not allowed
	refusedQuickly(t, app, o.hostAddr+":22")   // the host is not a peer
	refusedQuickly(t, app, ni.Gateway+":5000") // nor through the gateway
	// UDP is refused with ICMP administratively prohibited (EHOSTUNREACH),
	// although a server answers there.
	serveUDPEcho(t, o.pid, ":9053", "udp:")
	if got, err := talkUDP(app, o.addr+":9053", 2*time.Second); err == nil || !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("UDP to a denied destination: %q, %v; want EHOSTUNREACH", got, err)
	}
	denied, err := e.m.EgressDenied(e.project, "app")
	if err != nil || denied < 5 {
		t.Fatalf("EgressDenied = %d, %v; want at least 5", denied, err)
	}

	// A name that is not allowed is not resolved (REFUSED, never forwarded:
	// no exfiltration through query names), and its address stays blocked.
	if got, err := resolve(app, ni.Gateway, "other.test"); err != nil || len(got) != 0 {
		t.Fatalf("resolve other.test: %v %v; want no answer", got, err)
	}
	refusedQuickly(t, app, o.addr2+":80")
	// An allowed name opens its address, for TTL+grace.
	if got, err := resolve(app, ni.Gateway, "api.test"); err != nil || len(got) != 1 || got[0] != o.addr2 {
		t.Fatalf("resolve api.test: %v %v", got, err)
	}
	mustTalk(t, app, o.addr2+":80", "out80:")
	mustTalk(t, app, o.addr2+":81", "out81:") // a domain rule allows any port
	time.Sleep(2500 * time.Millisecond)
	refusedQuickly(t, app, o.addr2+":80")
	// Wildcards.
	if got, err := resolve(app, ni.Gateway, "x.wild.test"); err != nil || len(got) != 1 {
		t.Fatalf("resolve x.wild.test: %v %v", got, err)
	}
	mustTalk(t, app, o.addr2+":80", "out80:")

	// With CAP_NET_ADMIN in its namespace the service could take another
	// source address; the host drops such packets at the bridge port.
	spoof := strings.TrimSuffix(pi.IP, "."+strings.Split(pi.IP, ".")[3]) + ".200"
	if err := in(app, func() error {
		return runIP("addr", "add", spoof+"/24", "dev", "eth0")
	}); err != nil {
		t.Fatal(err)
	}
	var c net.Conn
	err = in(app, func() (err error) {
		d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(spoof)}}
		c, err = d.Dial("tcp4", o.addr+":81")
		return
	})
	if err == nil {
		c.Close()
		t.Fatalf("a spoofed source address escaped the egress rules")
	}
}

func TestLiveUpdateKeepsSandbox(t *testing.T) {
	e := newEnv(t)
	e.network("n", nil)
	o := newOutside(t)
	serveEcho(t, o.pid, ":80", "out:")
	srv := sandbox(t)
	p1, p2 := testutil.FreePort(t), testutil.FreePort(t)
	port := func(p int) []Port {
		return []Port{{Target: 8080, Published: p, HostIP: "0.0.0.0", Protocol: "tcp"}}
	}
	ai := e.attach(Attachment{Network: "n", Service: "web", PID: srv, Ports: port(p1)})
	serveEcho(t, srv, ":8080", "web:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p1), "web:")
	mustTalk(t, srv, o.addr+":80", "out:")
	ifIndex := func() int {
		var idx int
		in(srv, func() error {
			i, err := net.InterfaceByName("eth0")
			if err == nil {
				idx = i.Index
			}
			return err
		})
		return idx
	}
	before := ifIndex()

	up := Attachment{Project: e.project, Network: "n", Service: "web", PID: srv, Ports: port(p2), Egress: &Egress{}}
	if err := e.m.Update(e.ctx, up); err != nil {
		t.Fatal(err)
	}
	refusedQuickly(t, 0, fmt.Sprintf("127.0.0.1:%d", p1))
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p2), "web:")
	refusedQuickly(t, srv, o.addr+":80")
	// Unchanged ports are not a conflict with themselves; egress lifted.
	up.Egress = nil
	if err := e.m.Update(e.ctx, up); err != nil {
		t.Fatal(err)
	}
	mustTalk(t, srv, o.addr+":80", "out:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p2), "web:")
	if after := ifIndex(); after != before || before == 0 {
		t.Fatalf("eth0 changed (index %d -> %d): the sandbox was re-wired", before, after)
	}
	// Attach with the same pid is an update too, and keeps the address.
	if again := e.attach(Attachment{Network: "n", Service: "web", PID: srv, Ports: port(p2)}); again.IP != ai.IP {
		t.Fatalf("re-attach changed the address %s -> %s", ai.IP, again.IP)
	}
}

func TestPortConflictsRefused(t *testing.T) {
	e := newEnv(t)
	e.network("n", nil)
	busy := testutil.HoldPort(t, "0.0.0.0")
	pub := func(p int) []Port {
		return []Port{{Target: 80, Published: p, HostIP: "0.0.0.0", Protocol: "tcp"}}
	}
	_, err := e.m.Attach(e.ctx, Attachment{Project: e.project, Network: "n", Service: "web", PID: sandbox(t), Ports: pub(busy)})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(busy)) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("Attach on a bound port: %v; want an error naming port %d and pid %d", err, busy, os.Getpid())
	}

	// Another service of the project already publishes the port.
	free := testutil.FreePort(t)
	e.attach(Attachment{Network: "n", Service: "a", PID: sandbox(t), Ports: pub(free)})
	if _, err := e.m.Attach(e.ctx, Attachment{Project: e.project, Network: "n", Service: "b", PID: sandbox(t), Ports: pub(free)}); err == nil || !strings.Contains(err.Error(), fmt.Sprint(free)) {
		t.Fatalf("second publisher in the project: %v", err)
	}
	// Another project, in another state root, publishes it.
	e2 := newEnv(t)
	e2.network("n", nil)
	_, err = e2.m.Attach(e2.ctx, Attachment{Project: e2.project, Network: "n", Service: "c", PID: sandbox(t), Ports: pub(free)})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(free)) || !strings.Contains(err.Error(), e.project) {
		t.Fatalf("publisher in another project: %v; want an error naming port %d and project %s", err, free, e.project)
	}
}

func TestRestartKeepsAddressAndAdoption(t *testing.T) {
	e := newEnv(t)
	ni := e.network("n", nil)
	p := testutil.FreePort(t)
	ports := []Port{{Target: 80, Published: p, HostIP: "0.0.0.0", Protocol: "tcp"}}
	first := e.attach(Attachment{Network: "n", Service: "web", PID: sandbox(t), Ports: ports})
	st := e.attach(Attachment{Network: "n", Service: "db", PID: sandbox(t), IPv4: strings.TrimSuffix(ni.Gateway, ".1") + ".50"})
	if !strings.HasSuffix(st.IP, ".50") {
		t.Fatalf("static address ignored: %s", st.IP)
	}
	// The service restarts in a new sandbox (a new pid), without Detach:
	// same address, and its own published port is no conflict.
	restarted := sandbox(t)
	again := e.attach(Attachment{Network: "n", Service: "web", PID: restarted, Ports: ports})
	if again.IP != first.IP {
		t.Fatalf("restart changed the address %s -> %s", first.IP, again.IP)
	}
	serveEcho(t, restarted, ":80", "web:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "web:")
	if err := e.m.Detach(e.ctx, e.project, "n", "web", 1); err != nil {
		t.Fatal(err)
	}
	client := sandbox(t)
	e.attach(Attachment{Network: "n", Service: "client", PID: client})

	// The supervisor process goes away; a new one adopts the recorded state.
	e.m.Close()
	m2, err := NewManager(e.m.root)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m2
	ni2 := e.network("n", nil)
	if ni2.Subnet != ni.Subnet || ni2.Bridge != ni.Bridge {
		t.Fatalf("adopted network differs: %+v vs %+v", ni2, ni)
	}
	if got, err := resolve(client, ni.Gateway, "db"); err != nil || len(got) != 1 || got[0] != st.IP {
		t.Fatalf("after adoption resolve db = %v, %v", got, err)
	}
	web := e.attach(Attachment{Network: "n", Service: "web", PID: sandbox(t)})
	if web.IP != first.IP {
		t.Fatalf("after adoption web got %s, recorded %s", web.IP, first.IP)
	}
	if err := m2.RemoveProject(context.Background(), e.project); err != nil {
		t.Fatal(err)
	}
}

// A failed Attach leaves nothing behind (the leak check at the end runs
// after RemoveProject; here we check before it, on a live network).
func TestAttachFailuresLeaveNothing(t *testing.T) {
	e := newEnv(t)
	ni := e.network("n", nil)
	base := strings.TrimSuffix(ni.Gateway, ".1")
	cases := []struct {
		name string
		a    Attachment
		want string
	}{
		{"dead pid", Attachment{PID: 1 << 30}, "pid"},
		{"static outside subnet", Attachment{PID: sandbox(t), IPv4: "192.0.2.9"}, "outside subnet"},
		{"static gateway", Attachment{PID: sandbox(t), IPv4: ni.Gateway}, "gateway"},
		{"bad egress", Attachment{PID: sandbox(t), Egress: &Egress{Allow: []EgressRule{{CIDR: "not-an-address"}}}}, "not-an-address"},
		{"no such network", Attachment{PID: sandbox(t), Network: "nope"}, "does not exist"},
	}
	for _, c := range cases {
		c.a.Project, c.a.Service = e.project, "svc"
		if c.a.Network == "" {
			c.a.Network = "n"
		}
		_, err := e.m.Attach(e.ctx, c.a)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Attach error %v; want one mentioning %q", c.name, err, c.want)
		}
	}
	left, _ := LeakCheck(e.m.root)
	for _, l := range left {
		if strings.Contains(l, "link "+vethPrefix) {
			t.Errorf("failed attach left %s", l)
		}
	}
	// The network still works, and the first free address was not burnt.
	ai := e.attach(Attachment{Network: "n", Service: "ok", PID: sandbox(t)})
	if ai.IP != base+".2" {
		t.Errorf("first address after failures = %s, want %s.2", ai.IP, base)
	}
}
