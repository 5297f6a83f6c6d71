package network

import (
	"fmt"
	"os"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// routeLoopbackVia makes pid's namespace send 127.0.0.1 out of dev to gw,
// as an attacker on the LAN (or a sandbox with CAP_NET_ADMIN) can: the
// local table is moved behind a rule for 127.0.0.1, and dev accepts
// loopback addresses (route_localnet) so the answers are taken.
func routeLoopbackVia(t testing.TB, pid int, dev, gw string) {
	t.Helper()
	if err := in(pid, func() error {
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+dev+"/route_localnet", []byte("1"), 0o644); err != nil {
			return err
		}
		for _, args := range [][]string{
			{"rule", "add", "pref", "100", "lookup", "local"},
			{"rule", "del", "pref", "0"},
			{"route", "add", "127.0.0.1/32", "via", gw, "dev", dev, "table", "100"},
			{"rule", "add", "pref", "10", "to", "127.0.0.1/32", "lookup", "100"},
		} {
			if err := runIP(args...); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("route 127.0.0.1 via %s in pid %d: %v", gw, pid, err)
	}
}

// HIGH-1: a port published on 127.0.0.1 answers the host's own loopback
// only, not a neighbour that routes 127.0.0.1 to the host.
func TestLoopbackPortNotReachableFromOutside(t *testing.T) {
	e := newEnv(t)
	e.network("n", nil)
	srv := sandbox(t)
	p := testutil.FreePort(t)
	e.attach(Attachment{Network: "n", Service: "web", PID: srv, Ports: []Port{
		{Target: 8080, Published: p, HostIP: "127.0.0.1", Protocol: "tcp"}}})
	serveEcho(t, srv, ":8080", "web:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "web:")

	o := newOutside(t)
	routeLoopbackVia(t, o.pid, "eth0", o.hostAddr)
	if got, err := talk(o.pid, fmt.Sprintf("127.0.0.1:%d", p), time.Second); err == nil {
		t.Errorf("a neighbour reached the port published on 127.0.0.1:%d: %q", p, got)
	}
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "web:")
}

// HIGH-2: route_localnet on the bridge does not open the host's
// loopback-only services to a sandbox that sends to 127.0.0.1 through
// the gateway.
func TestSandboxCannotReachHostLoopback(t *testing.T) {
	e := newEnv(t)
	ni := e.network("n", nil)
	sb := sandbox(t)
	p := testutil.FreePort(t)
	e.attach(Attachment{Network: "n", Service: "app", PID: sb, Ports: []Port{
		{Target: 8080, Published: p, HostIP: "127.0.0.1", Protocol: "tcp"}}})
	secret := serveEcho(t, 0, "127.0.0.1:0", "host-secret:")
	routeLoopbackVia(t, sb, "eth0", ni.Gateway)
	if got, err := talk(sb, secret.String(), time.Second); err == nil {
		t.Errorf("a sandbox reached the host's loopback-only %s: %q", secret, got)
	}
	// The published-port return path still works.
	serveEcho(t, sb, ":8080", "web:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "web:")
}

// HIGH-3: only published ports (DNAT), answers and the project's own
// traffic enter a sandbox from outside its bridge; a neighbour routing to
// the sandbox's address directly gets nowhere.
func TestSandboxesNotRoutableFromOutside(t *testing.T) {
	e := newEnv(t)
	ni := e.network("n", nil)
	srv, peer := sandbox(t), sandbox(t)
	p := testutil.FreePort(t)
	si := e.attach(Attachment{Network: "n", Service: "web", PID: srv, Ports: []Port{
		{Target: 8080, Published: p, HostIP: "0.0.0.0", Protocol: "tcp"}}})
	e.attach(Attachment{Network: "n", Service: "peer", PID: peer})
	serveEcho(t, srv, ":8080", "web:")
	serveEcho(t, srv, ":9999", "unpublished:")
	o := newOutside(t)
	serveEcho(t, o.pid, ":80", "out:")

	// Published, answers, peers, the host and the project's other network.
	mustTalk(t, o.pid, fmt.Sprintf("%s:%d", o.hostAddr, p), "web:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "web:")
	mustTalk(t, peer, fmt.Sprintf("%s:%d", o.hostAddr, p), "web:")
	mustTalk(t, srv, fmt.Sprintf("%s:%d", ni.Gateway, p), "web:")
	mustTalk(t, peer, si.IP+":9999", "unpublished:")
	mustTalk(t, srv, o.addr+":80", "out:")
	mustTalk(t, 0, si.IP+":9999", "unpublished:")
	e.network("m", nil)
	other := sandbox(t)
	e.attach(Attachment{Network: "m", Service: "other", PID: other})
	mustTalk(t, other, si.IP+":9999", "unpublished:")

	// Direct routing from outside: neither the unpublished port nor the
	// published one's target port.
	for _, port := range []int{9999, 8080} {
		if got, err := talk(o.pid, fmt.Sprintf("%s:%d", si.IP, port), time.Second); err == nil {
			t.Errorf("a neighbour reached %s:%d directly: %q", si.IP, port, got)
		}
	}
	// Nor a sandbox of another project.
	f := newEnv(t)
	f.network("x", nil)
	foreign := sandbox(t)
	f.attach(Attachment{Network: "x", Service: "foreign", PID: foreign})
	if got, err := talk(foreign, si.IP+":9999", time.Second); err == nil {
		t.Errorf("another project's sandbox reached %s:9999: %q", si.IP, got)
	}
}
