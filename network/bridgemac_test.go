package network

import (
	"testing"

	"github.com/vishvananda/netlink"
)

// TestGatewayMACStaysWhenSandboxesJoin: a bridge whose MAC was never set
// follows the lowest MAC of its ports, so a sandbox joining with a lower
// one changed the gateway's MAC under the sandboxes already there; their
// ARP entries then pointed nowhere and the resolver and the way out were
// gone for seconds (found as a flaky DNS test, issue 9).
func TestGatewayMACStaysWhenSandboxesJoin(t *testing.T) {
	e := newEnv(t)
	ni := e.network("n", nil)
	l, err := netlink.LinkByName(ni.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	want := l.Attrs().HardwareAddr.String()
	for i := range 12 {
		e.attach(Attachment{Network: "n", Service: "s" + string(rune('a'+i)), PID: sandbox(t)})
		l, err := netlink.LinkByName(ni.Bridge)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Attrs().HardwareAddr.String(); got != want {
			t.Fatalf("after sandbox %d joined, the bridge's MAC changed from %s to %s", i+1, want, got)
		}
	}
}
