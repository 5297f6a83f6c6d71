package network

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"nucleus/internal/testutil"
	"nucleus/network/nft"
)

// nucleusBridges lists the nucleus bridges on the host, of any state root.
func nucleusBridges(t testing.TB) []string {
	t.Helper()
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		if l.Type() == "bridge" && strings.HasPrefix(l.Attrs().Name, bridgePrefix) && strings.HasPrefix(l.Attrs().Alias, aliasPrefix) {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// MEDIUM-4: ip_forward goes back to 0 when nucleus switched it on and the
// last nucleus network of the host (any state root) is removed; it stays
// on while another root still has a network, and nucleus never switches
// off what it did not switch on.
//
// ip_forward and the links are per network namespace: the test runs itself
// again in a namespace of its own (with its own note file), so nucleus
// networks of concurrent runs on this host neither disturb it nor see
// ip_forward switched off.
func TestIPForwardRestoredAfterLastNetwork(t *testing.T) {
	if ownNetns(t) {
		return
	}
	e1, e2 := newEnv(t), newEnv(t)
	if b := nucleusBridges(t); len(b) > 0 {
		t.Fatalf("nucleus bridges in a new network namespace: %v", b)
	}
	if err := writeSysctl("net/ipv4/ip_forward", "0"); err != nil {
		t.Fatal(err)
	}

	e1.network("n", nil)
	e2.network("n", nil)
	if v := readSysctl("net/ipv4/ip_forward"); v != "1" {
		t.Fatalf("ip_forward = %s with networks, want 1", v)
	}
	if _, err := os.Stat(forwardMarker); err != nil {
		t.Fatalf("no note that nucleus enabled ip_forward: %v", err)
	}
	if err := e1.m.RemoveProject(e1.ctx, e1.project); err != nil {
		t.Fatal(err)
	}
	if v := readSysctl("net/ipv4/ip_forward"); v != "1" {
		t.Fatalf("ip_forward = %s while another root has a network, want 1", v)
	}
	if err := e2.m.RemoveNetwork(e2.ctx, e2.project, "n"); err != nil {
		t.Fatal(err)
	}
	if v := readSysctl("net/ipv4/ip_forward"); v != "0" {
		t.Fatalf("ip_forward = %s after the last network, want 0 (as before)", v)
	}
	if _, err := os.Stat(forwardMarker); err == nil {
		t.Fatalf("%s left behind", forwardMarker)
	}

	// Switched on by someone else: left on.
	if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	e1.network("m", nil)
	if err := e1.m.RemoveProject(e1.ctx, e1.project); err != nil {
		t.Fatal(err)
	}
	if v := readSysctl("net/ipv4/ip_forward"); v != "1" {
		t.Fatalf("ip_forward = %s: nucleus switched off what it did not switch on", v)
	}
}

// ownNetns runs the calling test again in a network namespace of its own
// (links, ip_forward, nftables and iptables are per namespace) with its own
// note file; true in the parent, which is then done.
func ownNetns(t *testing.T) bool {
	t.Helper()
	if testutil.RerunInOwnNetns(t) {
		return true
	}
	forwardMarker = filepath.Join(t.TempDir(), "ip_forward.enabled-by-nucleus")
	return false
}

func wantForward(t *testing.T, want, why string) {
	t.Helper()
	if v := readSysctl("net/ipv4/ip_forward"); v != want {
		t.Fatalf("ip_forward = %s %s, want %s", v, why, want)
	}
}

// Issue 10: nucleus never switches ip_forward off while someone else
// forwards — a bridge that is not nucleus's (docker0, cni0, ...), or
// forwarding/masquerading rules of another owner — and switches it off
// once they are gone.
func TestIPForwardKeptForOtherUsers(t *testing.T) {
	if ownNetns(t) {
		return
	}
	e := newEnv(t)
	if err := writeSysctl("net/ipv4/ip_forward", "0"); err != nil {
		t.Fatal(err)
	}
	down := func() {
		t.Helper()
		e.network("n", nil)
		wantForward(t, "1", "with a network")
		if err := e.m.RemoveProject(e.ctx, e.project); err != nil {
			t.Fatal(err)
		}
	}

	// Another owner's bridge (what Docker, CNI or libvirt create).
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "docker0"}}); err != nil {
		t.Fatal(err)
	}
	down()
	wantForward(t, "1", "after nucleus down while docker0 exists")
	br, _ := netlink.LinkByName("docker0")
	netlink.LinkDel(br)
	down()
	wantForward(t, "0", "after nucleus down with docker0 gone")

	// Another owner's forward rules (a table of its own).
	if out, err := exec.Command("nft", "add table ip other; add chain ip other fw { type filter hook forward priority 0; policy accept; }; add rule ip other fw iifname \"eth9\" accept").CombinedOutput(); err != nil {
		t.Fatalf("nft: %v %s", err, out)
	}
	down()
	wantForward(t, "1", "after nucleus down while another table forwards")
	exec.Command("nft", "delete table ip other").Run()
	down()
	wantForward(t, "0", "after nucleus down with the other table gone")
	if _, err := os.Stat(forwardMarker); err == nil {
		t.Fatalf("%s left behind", forwardMarker)
	}
}

// Issue 10: with Docker's DOCKER-USER chain present (iptables-nft), a
// network puts nucleus's rules at its top, a chain that appears later (a
// Docker started after nucleus) gets them within the watch interval, and
// the last network's removal takes them out again, leaving Docker's rules.
func TestDockerUserFollowsNetworks(t *testing.T) {
	if ownNetns(t) {
		return
	}
	testutil.RequireBinary(t, "iptables-nft", "make deps installs docker.io, which brings it")
	hostWatchInterval = 100 * time.Millisecond
	ipt := func(args ...string) string { t.Helper(); return iptables(t, args...) }
	mine := func() int { return strings.Count(ipt("-S", "DOCKER-USER"), nft.DockerUserComment) }
	dockerStarts := func() {
		ipt("-N", "DOCKER-USER")
		ipt("-A", "DOCKER-USER", "-j", "RETURN")
		ipt("-I", "FORWARD", "-j", "DOCKER-USER")
		ipt("-P", "FORWARD", "DROP")
	}
	dockerStarts()
	e := newEnv(t)
	e.network("n", nil)
	if n := mine(); n != 4 {
		t.Fatalf("%d nucleus rules in DOCKER-USER after a network, want 4:\n%s", n, ipt("-S", "DOCKER-USER"))
	}
	if err := e.m.RemoveProject(e.ctx, e.project); err != nil {
		t.Fatal(err)
	}
	if got := ipt("-S", "DOCKER-USER"); got != "-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n" {
		t.Fatalf("DOCKER-USER after the last network:\n%s", got)
	}

	// Docker (re)started after nucleus: a fresh chain.
	ipt("-D", "FORWARD", "-j", "DOCKER-USER")
	ipt("-F", "DOCKER-USER")
	ipt("-X", "DOCKER-USER")
	e.network("n", nil)
	dockerStarts()
	deadline := time.Now().Add(5 * time.Second)
	for mine() != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("no nucleus rules in a DOCKER-USER chain created after the network:\n%s", ipt("-S", "DOCKER-USER"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := e.m.RemoveProject(e.ctx, e.project); err != nil {
		t.Fatal(err)
	}
	if n := mine(); n != 0 {
		t.Fatalf("%d nucleus rules left in DOCKER-USER", n)
	}
}

// iptables runs iptables-nft (the iptables Docker uses) and fails the test
// when it fails.
func iptables(t *testing.T, args ...string) string {
	t.Helper()
	return testutil.Run(t, "iptables-nft", args...)
}
