package network

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"

	"nucleus/internal/testutil"
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
	if os.Getenv("NUCLEUS_TEST_OWN_NETNS") == "" {
		testutil.RequireRoot(t)
		cmd := exec.Command(os.Args[0], "-test.run=^TestIPForwardRestoredAfterLastNetwork$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "NUCLEUS_TEST_OWN_NETNS=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestIPForwardRestoredAfterLastNetwork") {
			t.Fatalf("in its own network namespace: %v\n%s", err, out)
		}
		return
	}
	forwardMarker = filepath.Join(t.TempDir(), "ip_forward.enabled-by-nucleus")
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
