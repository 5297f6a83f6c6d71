package nft

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

func cidr(s string) *net.IPNet { return mustCIDR(s) }

func listTable(t *testing.T, fam, name string) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", fam, name).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table %s %s: %v\n%s", fam, name, err, out)
	}
	return string(out)
}

// TestApplyUpdateDelete applies a table, changes it in place and deletes it,
// checking what the kernel holds (with the nft CLI) at each step.
func TestApplyUpdateDelete(t *testing.T) {
	testutil.RequireRoot(t)
	_, err := exec.LookPath("nft")
	testutil.Require(t, err == nil, "nft command (package nftables)")
	name := fmt.Sprintf("nucleus_test_%d", os.Getpid())
	defer Delete(name)

	tbl := &Table{Name: name, Networks: []Network{{
		Bridge: "nctestbr0", Subnet: cidr("10.250.7.0/24"), Gateway: net.ParseIP("10.250.7.1"),
		Sandboxes: []Sandbox{{
			ID: "a", IP: net.ParseIP("10.250.7.2"), HostIf: "nctestv0",
			Forwards: []Forward{{Proto: "tcp", HostPort: 18080, Target: 80}, {Proto: "udp", HostIP: net.ParseIP("127.0.0.1"), HostPort: 19000, HostPortEnd: 19001, Target: 19000, TargetEnd: 19001}},
			Egress:   &Egress{Allow: []Allow{{Net: cidr("198.18.0.0/24"), Proto: "tcp", PortStart: 80, PortEnd: 80}}, Domains: true},
		}},
	}}}
	if err := Apply(tbl); err != nil {
		t.Fatal(err)
	}
	ip := listTable(t, "ip", name)
	for _, want := range []string{"dnat to 10.250.7.2:80", "tcp dport 18080", "udp dport 19000-19001", "masquerade", "jump eg_a", "set dom_a", "counter deny_a", "reject with tcp reset", "198.18.0.0/24 tcp dport 80 accept"} {
		if !strings.Contains(ip, want) {
			t.Errorf("table lacks %q:\n%s", want, ip)
		}
	}
	if br := listTable(t, "bridge", name); !strings.Contains(br, `iifname "nctestv0"`) {
		t.Errorf("bridge table lacks anti-spoofing:\n%s", br)
	}
	fw, err := Forwards("nucleus_test_", "")
	if err != nil || len(fw) != 2 {
		t.Fatalf("Forwards = %v, %v; want the 2 forwards", fw, err)
	}

	if err := AddAllowed(name, "a", []net.IP{net.ParseIP("198.18.0.9")}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// A later answer with a longer lifetime extends it; a shorter one does not shorten it.
	if err := AddAllowed(name, "a", []net.IP{net.ParseIP("198.18.0.9")}, 100*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := AddAllowed(name, "a", []net.IP{net.ParseIP("198.18.0.9")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if els, err := Allowed(name, "a"); err != nil || len(els) != 1 || els[0].Expires < 90*time.Second {
		t.Fatalf("Allowed = %+v, %v; want 198.18.0.9 with about 100s left", els, err)
	}
	// Update in place: no more forwards, egress stays; the learnt address must survive.
	tbl.Networks[0].Sandboxes[0].Forwards = nil
	if err := Apply(tbl); err != nil {
		t.Fatal(err)
	}
	if ip := listTable(t, "ip", name); strings.Contains(ip, "dnat to") || !strings.Contains(ip, "198.18.0.9") {
		t.Errorf("after update: want no dnat and the learnt address:\n%s", ip)
	}
	if n, err := Denied(name, "a"); err != nil || n != 0 {
		t.Errorf("Denied = %d, %v", n, err)
	}
	// Sandbox leaves: its chain, set and counter go.
	tbl.Networks[0].Sandboxes = nil
	if err := Apply(tbl); err != nil {
		t.Fatal(err)
	}
	if ip := listTable(t, "ip", name); strings.Contains(ip, "eg_a") || strings.Contains(ip, "dom_a") || strings.Contains(ip, "deny_a") {
		t.Errorf("departed sandbox left objects:\n%s", ip)
	}
	if err := Delete(name); err != nil {
		t.Fatal(err)
	}
	if left, _ := ListTables(name); len(left) != 0 {
		t.Fatalf("tables left after Delete: %v", left)
	}
}
