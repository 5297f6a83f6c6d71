package network

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"nucleus/internal/testutil"
	"nucleus/spec"
)

func TestTwoSandboxesTalkAndResolve(t *testing.T) {
	e := newEnv(t)
	ni := e.network("back", nil)
	if len(ni.Bridge) > 15 || !strings.HasPrefix(ni.Bridge, linkPrefix) || !strings.HasSuffix(ni.Subnet, "/24") {
		t.Fatalf("network info %+v", ni)
	}
	a, b, ai := e.dbAndWeb("back", ni)
	mustTalk(t, b, ai.IP+":5432", "db:")

	for _, name := range []string{"db", "db." + e.project, "database", "db-1", "DB"} {
		got, err := resolve(b, ni.Gateway, name)
		if err != nil || len(got) != 1 || got[0] != ai.IP {
			t.Errorf("resolve %s from web: %v, %v; want [%s]", name, got, err, ai.IP)
		}
	}
	// By name, as a client would: resolve, then connect.
	ips, err := resolve(b, ni.Gateway, "database")
	if err != nil || len(ips) != 1 {
		t.Fatalf("resolve database: %v %v", ips, err)
	}
	mustTalk(t, b, ips[0]+":5432", "db:")

	// Replicas: the service name round-robins over both, each has its own name.
	c := sandbox(t)
	ci := e.attach(Attachment{Network: "back", Service: "web", Replica: 2, PID: c})
	if got, _ := resolve(a, ni.Gateway, "web-2"); len(got) != 1 || got[0] != ci.IP {
		t.Errorf("resolve web-2 = %v, want [%s]", got, ci.IP)
	}
	if got, _ := resolve(a, ni.Gateway, "web"); len(got) != 2 {
		t.Errorf("resolve web = %v, want both replicas", got)
	}
	// Names outside the project are forwarded upstream: an unknown name
	// fails cleanly rather than hanging (the host has no resolver here).
}

func TestPublishedPortLoopbackOtherNamespaceHairpin(t *testing.T) {
	e := newEnv(t)
	ni := e.network("front", nil)
	srv, peer := sandbox(t), sandbox(t)
	pt, pu := testutil.FreePort(t), testutil.FreePort(t)
	e.attach(Attachment{Network: "front", Service: "web", PID: srv, Ports: []Port{
		{Target: 8080, Published: pt, HostIP: "0.0.0.0", Protocol: "tcp"},
		{Target: 9053, Published: pu, HostIP: "0.0.0.0", Protocol: "udp"},
	}})
	e.attach(Attachment{Network: "front", Service: "client", PID: peer})
	serveEcho(t, srv, ":8080", "web:")
	serveUDPEcho(t, srv, ":9053", "udp:")

	hostPort := fmt.Sprintf("127.0.0.1:%d", pt)
	mustTalk(t, 0, hostPort, "web:")
	if got, err := talkUDP(0, fmt.Sprintf("127.0.0.1:%d", pu), 2*time.Second); err != nil || got != "udp:hi" {
		t.Errorf("udp via 127.0.0.1:%d: %q %v", pu, got, err)
	}
	// From another namespace, through the host's address.
	o := newOutside(t)
	mustTalk(t, o.pid, fmt.Sprintf("%s:%d", o.hostAddr, pt), "web:")
	// Hairpin: a service of the project, and the server itself, through the
	// host's addresses and the published port.
	mustTalk(t, peer, fmt.Sprintf("%s:%d", o.hostAddr, pt), "web:")
	mustTalk(t, peer, fmt.Sprintf("%s:%d", ni.Gateway, pt), "web:")
	mustTalk(t, srv, fmt.Sprintf("%s:%d", o.hostAddr, pt), "web:")
}

func TestPortRangeAndHostIP(t *testing.T) {
	e := newEnv(t)
	e.network("n", nil)
	srv := sandbox(t)
	p := testutil.FreePort(t)
	// A range mapped to different port numbers, on 127.0.0.1 only.
	e.attach(Attachment{Network: "n", Service: "web", PID: srv, Ports: []Port{
		{Target: 7000, TargetEnd: 7001, Published: p, PublishedEnd: p + 1, HostIP: "127.0.0.1", Protocol: "tcp"},
	}})
	serveEcho(t, srv, ":7000", "a:")
	serveEcho(t, srv, ":7001", "b:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "a:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p+1), "b:")
	o := newOutside(t)
	if _, err := talk(o.pid, fmt.Sprintf("%s:%d", o.hostAddr, p), 500*time.Millisecond); err == nil {
		t.Errorf("port published on 127.0.0.1 answered on %s", o.hostAddr)
	}
}

func TestInternalNetworkHasNoWayOut(t *testing.T) {
	e := newEnv(t)
	ni := e.network("private", func(n *Config) { n.Internal = true })
	o := newOutside(t)
	serveEcho(t, o.pid, ":80", "out:")
	mustTalk(t, 0, o.addr+":80", "out:") // the outside is reachable from the host
	a, b := sandbox(t), sandbox(t)
	ai := e.attach(Attachment{Network: "private", Service: "db", PID: a})
	e.attach(Attachment{Network: "private", Service: "app", PID: b})
	serveEcho(t, a, ":5432", "db:")
	mustTalk(t, b, ai.IP+":5432", "db:")
	refusedQuickly(t, b, o.addr+":80")
	refusedQuickly(t, b, o.hostAddr+":22")

	// A sandbox on the internal network and on a normal one reaches the
	// outside through the normal one: internal networks give no default route.
	both := sandbox(t)
	e.attach(Attachment{Network: "private", Service: "both", PID: both})
	e.network("public", nil)
	e.attach(Attachment{Network: "public", Service: "both", PID: both})
	mustTalk(t, both, o.addr+":80", "out:")
	mustTalk(t, both, ai.IP+":5432", "db:")
	if got, err := resolve(b, ni.Gateway, "db"); err != nil || len(got) != 1 {
		t.Errorf("DNS on an internal network: %v %v", got, err)
	}
}

func TestOutboundMasquerade(t *testing.T) {
	e := newEnv(t)
	e.network("n", nil)
	o := newOutside(t)
	serveEcho(t, o.pid, ":80", "out:")
	a := sandbox(t)
	e.attach(Attachment{Network: "n", Service: "app", PID: a})
	mustTalk(t, a, o.addr+":80", "out:")
}

// The leak check must see what a project leaves behind, and only this root's.
func TestLeakCheckSeesObjects(t *testing.T) {
	e := newEnv(t)
	other := newEnv(t)
	ni := e.network("n", nil)
	e.attach(Attachment{Network: "n", Service: "web", PID: sandbox(t), Egress: &Egress{},
		Ports: []Port{{Target: 80, Published: testutil.FreePort(t), HostIP: "0.0.0.0", Protocol: "tcp"}}})
	left, err := LeakCheck(e.m.root)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(left, "\n")
	for _, want := range []string{"link " + ni.Bridge, "link " + vethPrefix, "nftables table ip " + tableName(e.m.root, e.project), "nftables table bridge", "state "} {
		if !strings.Contains(all, want) {
			t.Errorf("LeakCheck lacks %q:\n%s", want, all)
		}
	}
	if left, _ := LeakCheck(other.m.root); len(left) != 0 {
		t.Errorf("another root's LeakCheck sees this root's objects: %v", left)
	}
}

// RemoveProject also removes links of the project that were never recorded
// (a crash between creating a bridge and writing its record).
func TestRemoveProjectRemovesUnrecordedLinks(t *testing.T) {
	e := newEnv(t)
	e.network("n", nil)
	name := bridgeName(e.m.root, e.project, "ghost")
	_, c, _ := net.ParseCIDR("10.255.254.0/24")
	if err := ensureBridge(name, linkAlias(e.m.root, e.project, "ghost"), net.ParseIP("10.255.254.1"), c); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RemoveProject(e.ctx, e.project); err != nil {
		t.Fatal(err)
	}
	if left, _ := LeakCheck(e.m.root); len(left) != 0 {
		t.Fatalf("left after RemoveProject: %v", left)
	}
}

// EnsureNetwork takes over from a supervisor killed while creating the
// network (issue 11, defect 7): a bridge of this root's name without a
// record (made before its record by older versions) does not make the
// network's own configured subnet look "already used on this host".
func TestEnsureNetworkOverUnrecordedBridge(t *testing.T) {
	e := newEnv(t)
	var octet int
	fmt.Sscanf(testutil.RandHex(1), "%x", &octet)
	subnet := fmt.Sprintf("10.255.%d.0/24", 100+octet%100)
	_, c, _ := net.ParseCIDR(subnet)
	name := bridgeName(e.m.root, e.project, "n")
	if err := ensureBridge(name, linkAlias(e.m.root, e.project, "n"), firstHost(c), c); err != nil {
		t.Fatal(err)
	}
	ni := e.network("n", func(n *Config) { n.Subnet = subnet })
	if ni.Subnet != subnet || ni.Bridge != name {
		t.Errorf("EnsureNetwork over an unrecorded bridge: %+v, want subnet %s on bridge %s", ni, subnet, name)
	}
}

// A supervisor killed between creating a bridge and setting its alias left
// a bridge of this root's name without one: the next EnsureNetwork of the
// recorded network adopts it (issue 11, defect 7).
func TestEnsureNetworkAdoptsBridgeWithoutAlias(t *testing.T) {
	e := newEnv(t)
	ni := e.network("n", nil)
	link, err := netlink.LinkByName(ni.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetAlias(link, ""); err != nil {
		t.Fatal(err)
	}
	if again := e.network("n", nil); *again != *ni {
		t.Errorf("EnsureNetwork over its bridge without alias: %+v, want %+v", again, ni)
	}
	if link, err = netlink.LinkByName(ni.Bridge); err != nil || link.Attrs().Alias != linkAlias(e.m.root, e.project, "n") {
		t.Errorf("bridge %s after EnsureNetwork: alias %q, err %v; want the network's alias", ni.Bridge, link.Attrs().Alias, err)
	}
}

func TestEnsureNetworkIdempotentAndChecked(t *testing.T) {
	e := newEnv(t)
	ni := e.network("n", nil)
	// The same spec again, and the subnet written with host bits: no change.
	if again := e.network("n", func(n *Config) { n.Subnet = strings.Replace(ni.Subnet, ".0/", ".7/", 1) }); *again != *ni {
		t.Fatalf("EnsureNetwork again: %+v, first %+v", again, ni)
	}
	if _, err := e.m.EnsureNetwork(e.ctx, e.project, &Config{Name: "n", NAT: spec.NATKernel, Subnet: "10.254.3.0/24"}); err == nil || !strings.Contains(err.Error(), "remove the network first") {
		t.Errorf("changed subnet: %v", err)
	}
	// A configured subnet that overlaps another network on the host.
	if _, err := e.m.EnsureNetwork(e.ctx, e.project, &Config{Name: "m", NAT: spec.NATKernel, Subnet: ni.Subnet}); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("overlapping subnet: %v", err)
	}
	// Two networks get different subnets and bridges.
	other := e.network("o", nil)
	if other.Subnet == ni.Subnet || other.Bridge == ni.Bridge {
		t.Errorf("two networks share %s / %s", other.Subnet, other.Bridge)
	}
}
