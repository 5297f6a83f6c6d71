package network

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
)

// A second Manager of the same root in the same process (the daemon's
// `down`, a supervisor's later pass) removing a network must stop the
// resolver the first one started: a resolver left listening on the old
// gateway address answered, with its stale records, the queries of the next
// network that reused the subnet — in any state root.
func TestRemovingANetworkStopsItsResolverWhicheverManagerStartedIt(t *testing.T) {
	e := newEnv(t)
	ni := e.network("n", nil)
	if !listensOn(t, ni.Gateway+":53") {
		t.Fatalf("no resolver listens on %s:53 after EnsureNetwork", ni.Gateway)
	}
	other, err := NewManager(e.m.root)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.RemoveProject(context.Background(), e.project); err != nil {
		t.Fatal(err)
	}
	if listensOn(t, ni.Gateway+":53") {
		t.Fatalf("a resolver still listens on %s:53 after the network was removed", ni.Gateway)
	}
}

// listensOn reports whether a UDP socket of this host is bound to addr
// ("IP:PORT"), from the host's /proc/net/udp.
func listensOn(t *testing.T, addr string) bool {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	ip := net.ParseIP(host).To4()
	var p int
	fmt.Sscan(port, &p)
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], p)
	b, err := readProcNet("udp")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 && f[1] == want {
			return true
		}
	}
	return false
}
