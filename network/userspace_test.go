package network

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/spec"
)

// usNetwork ensures a userspace-NAT network of the test's project.
func (e *testEnv) usNetwork(name string, mod func(*Config)) *NetworkInfo {
	e.t.Helper()
	return e.network(name, func(n *Config) {
		n.NAT = spec.NATUserspace
		if mod != nil {
			mod(n)
		}
	})
}

func requireSlirp4netns(t testing.TB) {
	t.Helper()
	testutil.RequireBinary(t, "slirp4netns", "make deps installs it")
}

func TestUserspaceServicesResolveAndReachEachOther(t *testing.T) {
	requireSlirp4netns(t)
	e := newEnv(t)
	ni := e.usNetwork("back", nil)
	if ni.NAT != spec.NATUserspace || ni.Bridge != "" {
		t.Fatalf("network info %+v", ni)
	}
	_, web, dbi := e.dbAndWeb("back", ni)
	for _, name := range []string{"db", "database", "db." + e.project, "db-1"} {
		ips, err := resolve(web, ni.Gateway, name)
		if err != nil || len(ips) != 1 || ips[0] != dbi.IP {
			t.Fatalf("resolve %s from web: %v %v, want [%s]", name, ips, err, dbi.IP)
		}
	}
	mustTalk(t, web, dbi.IP+":5432", "db:")
}

func TestUserspacePortForwardsApplyLive(t *testing.T) {
	requireSlirp4netns(t)
	e := newEnv(t)
	e.usNetwork("front", nil)
	web := sandbox(t)
	p1, p2 := testutil.FreePort(t), testutil.FreePort(t)
	e.attach(Attachment{Network: "front", Service: "web", PID: web, Ports: []Port{
		{Target: 80, Published: p1, HostIP: "127.0.0.1", Protocol: "tcp"},
	}})
	serveEcho(t, web, ":80", "web:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p1), "web:")

	// Move the published port without restarting the sandbox.
	if err := e.m.Update(e.ctx, Attachment{Project: e.project, Network: "front", Service: "web", PID: web, Ports: []Port{
		{Target: 80, Published: p2, HostIP: "127.0.0.1", Protocol: "tcp"},
	}}); err != nil {
		t.Fatal(err)
	}
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p2), "web:")
	if got, err := talk(0, fmt.Sprintf("127.0.0.1:%d", p1), time.Second); err == nil && got != "" {
		t.Errorf("old published port %d still answers %q", p1, got)
	}
}

func TestUserspaceRefusedForwardNamesPort(t *testing.T) {
	requireSlirp4netns(t)
	e := newEnv(t)
	e.usNetwork("front", nil)
	port := testutil.HoldPort(t, "127.0.0.1")
	web := sandbox(t)
	_, err := e.m.Attach(e.ctx, Attachment{Project: e.project, Network: "front", Service: "web", PID: web, Ports: []Port{
		{Target: 80, Published: port, HostIP: "127.0.0.1", Protocol: "tcp"},
	}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(port)) {
		t.Fatalf("attach with a taken host port: %v, want an error naming port %d", err, port)
	}
	t.Logf("refusal: %v", err)
	// The sandbox was not left half-attached.
	if err := in(web, func() error {
		if ifs, _ := net.Interfaces(); len(ifs) != 1 {
			return fmt.Errorf("interfaces %v, want lo only", ifs)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

func TestUserspaceSmallSubnetRejected(t *testing.T) {
	requireSlirp4netns(t)
	e := newEnv(t)
	_, err := e.m.EnsureNetwork(e.ctx, e.project, &Config{Name: "tiny", NAT: spec.NATUserspace, Subnet: "10.250.7.0/26"})
	if err == nil || !strings.Contains(err.Error(), "too small") {
		t.Fatalf("EnsureNetwork with a /26: %v", err)
	}
}

// TestUserspaceReachesOutsideAndForwardsDNS: a sandbox reaches a namespace
// standing in for another host through slirp4netns, and names outside the
// project resolve through a DNS upstream on the host's loopback.
func TestUserspaceReachesOutsideAndForwardsDNS(t *testing.T) {
	requireSlirp4netns(t)
	o := newOutside(t)
	serveEcho(t, o.pid, o.addr+":8080", "outside:")
	up := startUpstream(t, map[string]string{"outside.test.": o.addr}, 60)
	e := newEnv(t)
	ni := e.usNetwork("out", func(n *Config) { n.DNS = []string{up} })
	web := sandbox(t)
	e.attach(Attachment{Network: "out", Service: "web", PID: web})
	ips, err := resolve(web, ni.Gateway, "outside.test")
	if err != nil || len(ips) != 1 || ips[0] != o.addr {
		t.Fatalf("resolve outside.test: %v %v, want [%s]", ips, err, o.addr)
	}
	mustTalk(t, web, o.addr+":8080", "outside:")
}

func TestUserspaceEgressRules(t *testing.T) {
	requireSlirp4netns(t)
	o := newOutside(t)
	serveEcho(t, o.pid, o.addr+":8080", "a:")
	serveEcho(t, o.pid, o.addr2+":8080", "b:")
	up := startUpstream(t, map[string]string{"api.test.": o.addr2}, 1)
	e := newEnv(t)
	ni := e.usNetwork("eg", func(n *Config) { n.DNS = []string{up} })
	web, peer := sandbox(t), sandbox(t)
	e.attach(Attachment{Network: "eg", Service: "web", PID: web, Egress: &Egress{Allow: []EgressRule{
		{CIDR: o.addr + "/32"}, {Domain: "api.test"},
	}}})
	pi := e.attach(Attachment{Network: "eg", Service: "peer", PID: peer})
	serveEcho(t, peer, ":7000", "peer:")

	mustTalk(t, web, o.addr+":8080", "a:")   // allowed CIDR
	mustTalk(t, web, pi.IP+":7000", "peer:") // peers always
	refusedQuickly(t, web, o.addr2+":8080")  // not allowed (yet)
	mustTalk(t, peer, o.addr2+":8080", "b:") // the peer has no rules

	ips, err := resolve(web, ni.Gateway, "api.test")
	if err != nil || len(ips) != 1 || ips[0] != o.addr2 {
		t.Fatalf("resolve api.test: %v %v", ips, err)
	}
	mustTalk(t, web, o.addr2+":8080", "b:") // allowed through the domain rule
	if n, err := e.m.EgressDenied(e.project, "web"); err != nil || n == 0 {
		t.Errorf("EgressDenied = %d, %v; want the refused attempt counted", n, err)
	}
}

// TestUserspaceAdoptedByAnotherManager: a second Manager of the same root
// (a one-off `nucleus run` beside the supervisor, or a restarted
// supervisor) shares the running slirp4netns through its API socket while
// its owner lives, and starts a fresh one once the owner's is gone.
func TestUserspaceAdoptedByAnotherManager(t *testing.T) {
	requireSlirp4netns(t)
	e := newEnv(t)
	e.usNetwork("front", nil)
	web := sandbox(t)
	p1, p2, p3 := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	port := func(p int) Port {
		return Port{Target: 80, Published: p, HostIP: "127.0.0.1", Protocol: "tcp"}
	}
	e.attach(Attachment{Network: "front", Service: "web", PID: web, Ports: []Port{port(p1)}})
	serveEcho(t, web, ":80", "web:")
	n, _ := e.m.loadNetwork(e.project, "front")
	ownerPid := extraOf(n).SlirpPID
	e.m.Close() // its DNS server goes; its slirp4netns stays (this process lives)

	m2, err := NewManager(e.m.root)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if _, err := m2.EnsureNetwork(e.ctx, e.project, &Config{Name: "front", NAT: spec.NATUserspace}); err != nil {
		t.Fatal(err)
	}
	if err := m2.Update(e.ctx, Attachment{Project: e.project, Network: "front", Service: "web", PID: web, Ports: []Port{port(p1), port(p2)}}); err != nil {
		t.Fatal(err)
	}
	n, _ = m2.loadNetwork(e.project, "front")
	if pid := extraOf(n).SlirpPID; pid != ownerPid {
		t.Errorf("second Manager runs slirp4netns pid %d; want the owner's %d shared", pid, ownerPid)
	}
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p1), "web:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p2), "web:")

	// The owner goes away (its exit pipe closes): the next change brings
	// up a new slirp4netns with every forward.
	owner := e.m.userspace.(*userspaceBackend)
	owner.mu.Lock()
	s := owner.slirps[extraOf(n).SlirpID]
	owner.mu.Unlock()
	s.Stop()
	if err := m2.Update(e.ctx, Attachment{Project: e.project, Network: "front", Service: "web", PID: web, Ports: []Port{port(p1), port(p2), port(p3)}}); err != nil {
		t.Fatal(err)
	}
	n, _ = m2.loadNetwork(e.project, "front")
	if pid := extraOf(n).SlirpPID; pid == ownerPid || pid == 0 {
		t.Errorf("slirp4netns pid %d after the owner's ended; want a new one", pid)
	}
	for _, p := range []int{p1, p2, p3} {
		mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "web:")
	}
	if err := m2.RemoveProject(e.ctx, e.project); err != nil {
		t.Fatal(err)
	}
}

func TestUserspaceInternalNetworkHasNoWayOut(t *testing.T) {
	requireSlirp4netns(t)
	o := newOutside(t)
	serveEcho(t, o.pid, o.addr+":8080", "outside:")
	e := newEnv(t)
	ni := e.usNetwork("private", func(n *Config) { n.Internal = true })
	a, b := sandbox(t), sandbox(t)
	ai := e.attach(Attachment{Network: "private", Service: "a", PID: a})
	e.attach(Attachment{Network: "private", Service: "b", PID: b})
	serveEcho(t, a, ":7000", "a:")
	mustTalk(t, b, ai.IP+":7000", "a:") // peers still talk
	if ips, err := resolve(b, ni.Gateway, "a"); err != nil || len(ips) != 1 {
		t.Errorf("DNS on an internal network: %v %v", ips, err)
	}
	refusedQuickly(t, b, o.addr+":8080")
}

// TestUserspaceDomainRuleExpires: an address learnt through a domain rule
// stays allowed for max(TTL, floor) + grace, then is refused again.
func TestUserspaceDomainRuleExpires(t *testing.T) {
	requireSlirp4netns(t)
	o := newOutside(t)
	serveEcho(t, o.pid, o.addr+":8080", "api:")
	up := startUpstream(t, map[string]string{"api.test.": o.addr}, 1)
	e := newEnv(t)
	e.m.DomainTTLFloor, e.m.DomainGrace = time.Second, time.Second
	ni := e.usNetwork("eg", func(n *Config) { n.DNS = []string{up} })
	web := sandbox(t)
	e.attach(Attachment{Network: "eg", Service: "web", PID: web, Egress: &Egress{Allow: []EgressRule{{Domain: "*.test"}}}})
	refusedQuickly(t, web, o.addr+":8080")
	if ips, err := resolve(web, ni.Gateway, "api.test"); err != nil || len(ips) != 1 {
		t.Fatalf("resolve: %v %v", ips, err)
	}
	mustTalk(t, web, o.addr+":8080", "api:")
	time.Sleep(2500 * time.Millisecond) // floor 1s + grace 1s, and a margin
	refusedQuickly(t, web, o.addr+":8080")
}

// TestUserspaceUDPAndRanges: UDP forwards and a published range mapped onto
// a different target range, through slirp4netns and the hub's DNAT. The
// UDP client is another namespace reaching the host's address: libslirp
// drops UDP answers to the host's loopback under --disable-host-loopback
// (a known limit of slirp4netns, see podman issue 4586).
func TestUserspaceUDPAndRanges(t *testing.T) {
	requireSlirp4netns(t)
	o := newOutside(t)
	e := newEnv(t)
	e.usNetwork("front", nil)
	web := sandbox(t)
	pu := testutil.FreePort(t)
	var lo int
	for lo == 0 {
		p := testutil.FreePort(t)
		if l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			l.Close()
			lo = p
		}
	}
	e.attach(Attachment{Network: "front", Service: "web", PID: web, Ports: []Port{
		{Target: 9053, Published: pu, HostIP: "0.0.0.0", Protocol: "udp"},
		{Target: 7000, TargetEnd: 7001, Published: lo, PublishedEnd: lo + 1, HostIP: "127.0.0.1", Protocol: "tcp"},
	}})
	serveUDPEcho(t, web, ":9053", "udp:")
	serveEcho(t, web, ":7000", "p7000:")
	serveEcho(t, web, ":7001", "p7001:")
	if got, err := talkUDP(o.pid, fmt.Sprintf("%s:%d", o.hostAddr, pu), 3*time.Second); err != nil || got != "udp:hi" {
		t.Errorf("UDP from another namespace through published port %s:%d: %q %v", o.hostAddr, pu, got, err)
	}
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", lo), "p7000:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", lo+1), "p7001:")
}

// TestUserspaceHostLoopbackEnv: with NUCLEUS_USERSPACE_HOST_LOOPBACK=1 the
// hub's way out (slirp4netns or pasta) maps its gateway to the host's
// loopback (what bench/net.sh measures egress through), so a sandbox
// reaches a server on the host's 127.0.0.1. The flags are checked before
// any traffic: without the mapping that address would lead to the host's
// real network.
func TestUserspaceHostLoopbackEnv(t *testing.T) {
	t.Setenv(HostLoopbackEnv, "1")
	for _, c := range []struct{ helper, refused string }{
		{spec.UserspaceSlirp, "--disable-host-loopback"},
		{spec.UserspacePasta, "--no-map-gw"},
	} {
		t.Run(c.helper, func(t *testing.T) {
			if c.helper == spec.UserspacePasta {
				requirePasta(t)
			} else {
				requireSlirp4netns(t)
			}
			host := serveEcho(t, 0, "127.0.0.1:0", "host:")
			e := newEnv(t)
			e.usNetwork("lo", func(n *Config) { n.UserspaceBackend = c.helper })
			web := sandbox(t)
			e.attach(Attachment{Network: "lo", Service: "web", PID: web})
			n, _ := e.m.loadNetwork(e.project, "lo")
			ex := extraOf(n)
			pid := max(ex.SlirpPID, ex.PastaPID)
			args, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil || !bytes.Contains(args, []byte(c.helper)) || bytes.Contains(args, []byte(c.refused)) || ex.SlirpSubnet != "10.0.2.0/24" {
				t.Fatalf("hub's %s with %s=1: subnet %s, command line %q (%v); want 10.0.2.0/24 without %s",
					c.helper, HostLoopbackEnv, ex.SlirpSubnet, bytes.ReplaceAll(args, []byte{0}, []byte{' '}), err, c.refused)
			}
			mustTalk(t, web, fmt.Sprintf("10.0.2.2:%d", host.(*net.TCPAddr).Port), "host:")
		})
	}
}
