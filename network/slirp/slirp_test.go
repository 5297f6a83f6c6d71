package slirp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"nucleus/internal/procstat"
	"nucleus/internal/testutil"
	"nucleus/network/dns"
)

func TestAddressesOf(t *testing.T) {
	for subnet, want := range map[string][3]string{
		"10.0.2.0/24":    {"10.0.2.100", "10.0.2.2", "10.0.2.3"},
		"10.89.0.0/16":   {"10.89.0.100", "10.89.0.2", "10.89.0.3"},
		"10.89.7.5/25":   {"10.89.7.100", "10.89.7.2", "10.89.7.3"},
		"10.89.7.128/25": {"10.89.7.228", "10.89.7.130", "10.89.7.131"},
	} {
		a, err := AddressesOf(subnet)
		if err != nil {
			t.Fatalf("%s: %v", subnet, err)
		}
		got := [3]string{a.Guest.String(), a.Gateway.String(), a.DNS.String()}
		if got != want {
			t.Errorf("%s: guest/gateway/dns %v, want %v", subnet, got, want)
		}
	}
	for _, bad := range []string{"10.0.2.0/26", "10.0.2.0/30", "fd00::/64", "nonsense"} {
		if _, err := AddressesOf(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	_, err := AddressesOf("10.0.2.0/26")
	if err == nil || !strings.Contains(err.Error(), "/25") {
		t.Errorf("small subnet error %v should name the /25 minimum", err)
	}
}

func TestStaticAddressOtherThanGuestIsRejected(t *testing.T) {
	_, err := New(Config{ID: "x", RuntimeRoot: t.TempDir(), PID: 1, Subnet: "10.0.2.0/24", StaticIP: "10.0.2.5"})
	if err == nil || !strings.Contains(err.Error(), "10.0.2.5") || !strings.Contains(err.Error(), "10.0.2.100") {
		t.Fatalf("error %v should name the requested 10.0.2.5 and the guest 10.0.2.100", err)
	}
	if _, err := New(Config{ID: "x", RuntimeRoot: t.TempDir(), PID: 1, StaticIP: "10.0.2.100"}); err != nil {
		t.Fatalf("the guest address itself is fine: %v", err)
	}
}

func requireSlirp(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "slirp4netns", "make deps installs it")
}

// newNet builds a Network under a fresh runtime root; cleanup stops it if
// the test did not, and checks the runtime directory is gone.
// keepDNS names the tests whose slirp4netns keeps its DNS (they only read
// its command line).
var keepDNS = map[string]bool{"TestStartConfiguresTapAndStopCleansUp": true}

func newNet(t *testing.T, cfg Config) (*Network, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "userspace-net")
	cfg.RuntimeRoot = root
	// slirp4netns's DNS forwards to the host's real resolver: off in
	// every test but the one that checks the default (keepDNS).
	if !keepDNS[t.Name()] {
		cfg.DisableDNS = true
	}
	if cfg.ID == "" {
		cfg.ID = "t" + testutil.RandHex(4)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.State() != Cleaned {
			n.Stop()
		}
		assertGone(t, n, filepath.Join(root, cfg.ID))
	})
	return n, filepath.Join(root, cfg.ID)
}

// assertGone checks that the process has ended and the runtime dir is gone.
func assertGone(t *testing.T, n *Network, dir string) {
	t.Helper()
	if ch := n.Exited(); ch != nil {
		select {
		case <-ch:
		default:
			t.Errorf("slirp4netns process still running")
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("runtime directory %s still present (%v)", dir, err)
	}
}

func TestStartConfiguresTapAndStopCleansUp(t *testing.T) {
	requireSlirp(t)
	ns := testutil.NewNetns(t)
	n, dir := newNet(t, Config{NetnsPath: ns, Subnet: "10.0.2.0/24"})
	if n.State() != Unconfigured {
		t.Fatalf("new network state %s", n.State())
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.State() != Active {
		t.Fatalf("state after Start: %s", n.State())
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("runtime dir %s: %v mode %v, want 0700", dir, err, st.Mode().Perm())
	}
	if _, err := os.Stat(n.APISocket()); err != nil {
		t.Fatalf("API socket: %v", err)
	}
	tap, err := linkIn(ns, "tap0")
	if err != nil {
		t.Fatalf("tap0 in the namespace: %v", err)
	}
	if tap.Attrs().MTU != 65520 {
		t.Errorf("tap0 MTU %d, want 65520", tap.Attrs().MTU)
	}
	h, _ := netns.GetFromPath(ns)
	nh, _ := netlink.NewHandleAt(h, unix.NETLINK_ROUTE)
	addrs, _ := nh.AddrList(tap, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.0.2.100/24" {
		t.Errorf("tap0 addresses %v, want 10.0.2.100/24", addrs)
	}
	routes, _ := nh.RouteList(tap, netlink.FAMILY_V4)
	var gw string
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			gw = r.Gw.String()
		}
	}
	if gw != "10.0.2.2" {
		t.Errorf("default route via %q, want 10.0.2.2", gw)
	}
	nh.Close()
	h.Close()
	assertFlags(t, n, "--configure", "--mtu=65520", "--ready-fd=3", "--exit-fd=4", "--api-socket", "--cidr",
		"10.0.2.0/24", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp", "--netns-type=path", ns, "tap0")
	if slices.Contains(cmdline(t, n), "--disable-dns") {
		t.Errorf("--disable-dns given although DNS servers were not configured")
	}

	if err := n.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "illegal state transition active -> configuring") {
		t.Errorf("second Start: %v, want an illegal transition error", err)
	}
	// Run as root, it has the group every kernel-NAT table refuses
	// (real, effective, saved and file system gid).
	if got, want := procStatus(t, n.PID(), "Gid"), strings.Repeat(fmt.Sprint(GID)+"\t", 4); got+"\t" != want {
		t.Errorf("slirp4netns group ids %q, want all %d (GID)", got, GID)
	}
	if got := procStatus(t, n.PID(), "Groups"); got != "" {
		t.Errorf("slirp4netns supplementary groups %q, want none", got)
	}
	if !hasGID(n.PID(), GID) || hasGID(os.Getpid(), GID) {
		t.Errorf("hasGID(slirp4netns) = %v, hasGID(test) = %v", hasGID(n.PID(), GID), hasGID(os.Getpid(), GID))
	}
	if got := seccompMode(t, n.PID()); got != "2" {
		t.Errorf("slirp4netns Seccomp mode %q in /proc/PID/status, want 2 (filter installed by --enable-seccomp)", got)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	// Closing the exit pipe alone must end it, not our kill after the
	// grace period: a killed process ends with a non-nil wait error. (No
	// wall-clock bound: it flakes on a loaded 2-core runner.)
	if n.waitErr != nil {
		t.Errorf("process ended with %v; want a clean exit on the exit pipe", n.waitErr)
	}
	if n.State() != Cleaned {
		t.Errorf("state after Stop: %s", n.State())
	}
	assertGone(t, n, dir)
	if _, err := linkIn(ns, "tap0"); err == nil {
		t.Errorf("tap0 still present after Stop")
	}
	if err := n.Stop(); err == nil || !strings.Contains(err.Error(), "illegal state transition cleaned -> cleaned") {
		t.Errorf("second Stop: %v, want an illegal transition error", err)
	}
}

func TestTargetByPid(t *testing.T) {
	requireSlirp(t)
	sb := sleeperInNetns(t)
	n, _ := newNet(t, Config{PID: sb.Process.Pid, Subnet: "10.89.0.0/16", DisableDNS: true})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertFlags(t, n, "--disable-dns", fmt.Sprint(sb.Process.Pid), "tap0")
	ns := fmt.Sprintf("/proc/%d/ns/net", sb.Process.Pid)
	tap, err := linkIn(ns, "tap0")
	if err != nil {
		t.Fatalf("tap0 in the sandbox's namespace: %v", err)
	}
	h, _ := netns.GetFromPath(ns)
	defer h.Close()
	nh, _ := netlink.NewHandleAt(h, unix.NETLINK_ROUTE)
	defer nh.Close()
	addrs, _ := nh.AddrList(tap, netlink.FAMILY_V4)
	if len(addrs) != 1 || !addrs[0].IP.Equal(net.ParseIP("10.89.0.100")) {
		t.Errorf("tap0 addresses %v, want 10.89.0.100", addrs)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
}

// cmdline is the running slirp4netns's argument list, read from /proc.
func cmdline(t *testing.T, n *Network) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n.PID()))
	if err != nil {
		t.Fatalf("slirp4netns cmdline: %v", err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func assertFlags(t *testing.T, n *Network, want ...string) {
	t.Helper()
	got := cmdline(t, n)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("slirp4netns runs with %q, missing %q", got, w)
		}
	}
}

func TestEarlyExitReportsExitCode(t *testing.T) {
	requireSlirp(t)
	// A PID that does not exist: slirp4netns cannot join its namespace.
	sb := exec.Command("true")
	sb.Run()
	n, dir := newNet(t, Config{PID: sb.Process.Pid})
	err := n.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "slirp4netns exited with code 1 before it was ready") {
		t.Fatalf("Start against a dead PID: %v", err)
	}
	if n.State() != Cleaned {
		t.Errorf("state after failed Start: %s, want cleaned", n.State())
	}
	assertGone(t, n, dir)
}

func fakeSlirp(t *testing.T, script string) string {
	p := filepath.Join(t.TempDir(), "slirp4netns")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEarlyExitReportsSignal(t *testing.T) {
	testutil.RequireRoot(t)
	// A stand-in that dies by SIGKILL before writing the ready byte, as
	// slirp4netns would under the OOM killer.
	n, dir := newNet(t, Config{PID: os.Getpid(), Binary: fakeSlirp(t, "kill -KILL $$")})
	err := n.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "slirp4netns was killed by signal 9 (killed) before it was ready") {
		t.Fatalf("Start: %v, want killed by signal 9", err)
	}
	assertGone(t, n, dir)
}

func TestReadyTimeoutKillsAndCleansUp(t *testing.T) {
	testutil.RequireRoot(t)
	n, dir := newNet(t, Config{PID: os.Getpid(), ReadyTimeout: 300 * time.Millisecond, Binary: fakeSlirp(t, "exec sleep 60")})
	start := time.Now()
	err := n.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not ready within 300ms") {
		t.Fatalf("Start: %v, want a readiness timeout", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("failed Start took %v; want timeout + at most the 2s stop grace", d)
	}
	assertGone(t, n, dir)
}

func TestBadSubnetCreatesNothing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "userspace-net")
	_, err := New(Config{ID: "x", RuntimeRoot: root, PID: 1, Subnet: "10.0.2.0/26"})
	if err == nil || !strings.Contains(err.Error(), "too small") {
		t.Fatalf("bad subnet: %v", err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("runtime root created for a rejected network")
	}
}

func TestRefusedForwardTearsDownNetwork(t *testing.T) {
	requireSlirp(t)
	ns := testutil.NewNetns(t)
	port := testutil.HoldPort(t, "127.0.0.1")
	n, dir := newNet(t, Config{NetnsPath: ns, Forwards: []Forward{{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: port, GuestPort: 80}}})
	err := n.Start(context.Background())
	want := fmt.Sprintf("slirp4netns add_hostfwd failed for 127.0.0.1:%d->80/tcp: ", port)
	if err == nil || !strings.HasPrefix(err.Error(), want) || len(err.Error()) == len(want) {
		t.Fatalf("Start with a taken port: %v\nwant prefix %q and a reason", err, want)
	}
	t.Logf("refusal: %v", err)
	if n.State() != Cleaned {
		t.Errorf("state %s, want cleaned", n.State())
	}
	assertGone(t, n, dir)
	if _, err := linkIn(ns, "tap0"); err == nil {
		t.Errorf("tap0 left behind after the refused forward")
	}
}

func TestForwardsReachServerInNamespaceAndUpdateLive(t *testing.T) {
	ns, p1, p2, f1, f2 := greeterAndTwoForwards(t)
	n, _ := newNet(t, Config{NetnsPath: ns, Forwards: []Forward{f1}})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dial := func(port int) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			return net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		}
	}
	if got, err := readGreeting(dial(p1)); err != nil || got != "hello from inside\n" {
		t.Fatalf("via forward %s: %q %v", f1, got, err)
	}
	if err := n.AddForward(f2); err != nil {
		t.Fatal(err)
	}
	if got, err := readGreeting(dial(p2)); err != nil || got != "hello from inside\n" {
		t.Fatalf("via live-added forward %s: %q %v", f2, got, err)
	}
	list, err := n.Forwards()
	if err != nil || len(list) != 2 {
		t.Fatalf("list_hostfwd: %v %v, want 2 entries", list, err)
	}
	if err := n.SetForwards([]Forward{f2}); err != nil {
		t.Fatal(err)
	}
	if _, err := readGreeting(dial(p1)); err == nil {
		t.Errorf("removed forward %s still answers", f1)
	}
	if got, err := readGreeting(dial(p2)); err != nil || got != "hello from inside\n" {
		t.Fatalf("kept forward %s: %q %v", f2, got, err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := readGreeting(dial(p2)); err == nil {
		t.Errorf("forward still answers after Stop")
	}
}

// TestNamespaceReachesOutside: the namespace reaches a namespace standing
// in for another host. Tests never send to slirp4netns's gateway or DNS
// address (base + 2, base + 3): the one leads to the host, the other to
// the host's real resolver. That the gateway does not lead to the host's
// loopback rests on --disable-host-loopback, asserted by flag.
func TestNamespaceReachesOutside(t *testing.T) {
	requireSlirp(t)
	outsideNS, outsideIP := outsideHost(t)
	greeter(t, listenInNetns(t, outsideNS, net.JoinHostPort(outsideIP.String(), "8080")), "outside")

	ns := testutil.NewNetns(t)
	n, _ := newNet(t, Config{NetnsPath: ns})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertFlags(t, n, "--disable-host-loopback", "--disable-dns")
	got, err := readGreeting(func() (c net.Conn, err error) {
		err = dns.InNetns(ns, func() error {
			c, err = net.DialTimeout("tcp", net.JoinHostPort(outsideIP.String(), "8080"), 2*time.Second)
			return err
		})
		return c, err
	})
	if err != nil || got != "hello from outside\n" {
		t.Fatalf("from the slirp namespace to the outside namespace %s: %q %v", outsideIP, got, err)
	}
}

// TestHostLoopback: with HostLoopback the namespace reaches a server on the
// host's 127.0.0.1 at the gateway address (base + 2). The flag is checked
// before any traffic: with --disable-host-loopback that address would lead
// to the host's real network.
func TestHostLoopback(t *testing.T) {
	requireSlirp(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	greeter(t, l, "the host's loopback")
	ns := testutil.NewNetns(t)
	n, _ := newNet(t, Config{NetnsPath: ns, HostLoopback: true})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if args := cmdline(t, n); slices.Contains(args, "--disable-host-loopback") {
		t.Fatalf("HostLoopback: slirp4netns runs with %q, want no --disable-host-loopback", args)
	}
	port := l.Addr().(*net.TCPAddr).Port
	gw := net.JoinHostPort(n.Addresses().Gateway.String(), strconv.Itoa(port))
	got, err := readGreeting(func() (c net.Conn, err error) {
		err = dns.InNetns(ns, func() error {
			c, err = net.DialTimeout("tcp", gw, 2*time.Second)
			return err
		})
		return c, err
	})
	if err != nil || got != "hello from the host's loopback\n" {
		t.Fatalf("from the slirp namespace to %s (the host's 127.0.0.1:%d): %q %v", gw, port, got, err)
	}
}

// TestUsernsPath: a sandbox in its own user namespace (the rootless shape);
// slirp4netns joins that user namespace to open the tap device.
func TestUsernsPath(t *testing.T) {
	requireSlirp(t)
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	n, _ := newNet(t, Config{PID: pid, UsernsPath: fmt.Sprintf("/proc/%d/ns/user", pid)})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := linkIn(fmt.Sprintf("/proc/%d/ns/net", pid), "tap0"); err != nil {
		t.Errorf("tap0 in the user-namespaced sandbox: %v", err)
	}
	assertFlags(t, n, fmt.Sprintf("--userns-path=/proc/%d/ns/user", pid))
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestAdoptRunningInstance: a second process (here: a second Network
// value) takes over a running slirp4netns through its API socket, changes
// forwards without disturbing the existing one, and stops it by signal.
func TestAdoptRunningInstance(t *testing.T) {
	ns, p1, p2, f1, f2 := greeterAndTwoForwards(t)
	owner, dir := newNet(t, Config{NetnsPath: ns, Forwards: []Forward{f1}})
	if err := owner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := owner.cfg
	cfg.Forwards = nil

	if _, err := Adopt(cfg, os.Getpid()); err == nil {
		t.Fatalf("adopted a process that is not slirp4netns")
	}
	n, err := Adopt(cfg, owner.PID())
	if err != nil {
		t.Fatal(err)
	}
	if n.State() != Active || n.PID() != owner.PID() {
		t.Fatalf("adopted: state %s pid %d", n.State(), n.PID())
	}
	if err := n.SetForwards([]Forward{f1, f2}); err != nil {
		t.Fatalf("SetForwards on the adopted instance (f1 exists already): %v", err)
	}
	for _, p := range []int{p1, p2} {
		dial := func() (net.Conn, error) { return net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), 2*time.Second) }
		if got, err := readGreeting(dial); err != nil || got != "hello from inside\n" {
			t.Errorf("port %d through the adopted instance: %q %v", p, got, err)
		}
	}
	if list, _ := n.Forwards(); len(list) != 2 {
		t.Errorf("forwards %v, want exactly 2 (no duplicate of f1)", list)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-owner.Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("slirp4netns still running after the adopter stopped it")
	}
	// SIGTERM must have ended it, not the SIGKILL after the grace period.
	if sig := exitSignal(owner.waitErr); sig != syscall.SIGTERM {
		t.Errorf("adopted instance ended by %v (wait: %v); SIGTERM should do", sig, owner.waitErr)
	}
	assertGone(t, n, dir)
	if err := owner.Stop(); err != nil {
		t.Errorf("owner Stop after the adopter stopped it: %v", err)
	}
}

// seccompMode is the Seccomp field of /proc/PID/status ("2" = filter).
func seccompMode(t *testing.T, pid int) string { return procStatus(t, pid, "Seccomp") }

// procStatus is the value of one field of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	v, err := procstat.StatusField(procstat.StatusPath(pid), field)
	if err != nil {
		t.Fatalf("status of slirp4netns %d: %v", pid, err)
	}
	return v
}

// exitSignal is the signal that ended a process, from its Wait error.
func exitSignal(waitErr error) syscall.Signal {
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
}

// greeterAndTwoForwards starts a greeter on port 80 in a new namespace and
// returns two forwards to it from free loopback ports.
func greeterAndTwoForwards(t *testing.T) (ns string, p1, p2 int, f1, f2 Forward) {
	t.Helper()
	requireSlirp(t)
	ns = testutil.NewNetns(t)
	greeter(t, listenInNetns(t, ns, "0.0.0.0:80"), "inside")
	p1, p2 = testutil.FreePort(t), testutil.FreePort(t)
	f1 = Forward{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: p1, GuestPort: 80}
	f2 = Forward{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: p2, GuestPort: 80}
	return ns, p1, p2, f1, f2
}

// TestAdoptRefusesInstanceWithoutGroup: a slirp4netns started as root
// without GID (by a nucleus from before the group existed) would pass as
// the host in every kernel-NAT table; it is not adopted, so the caller
// replaces it.
func TestAdoptRefusesInstanceWithoutGroup(t *testing.T) {
	requireSlirp(t)
	testutil.RequireRoot(t)
	ns := testutil.NewNetns(t)
	n, dir := newNet(t, Config{NetnsPath: ns})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("slirp4netns", "--disable-dns", "--disable-host-loopback", "--api-socket", n.APISocket(),
		"--netns-type=path", ns, "tap0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(n.APISocket()); err == nil {
			break
		}
		if i == 200 {
			t.Fatalf("slirp4netns started by hand did not create %s", n.APISocket())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := Adopt(n.cfg, cmd.Process.Pid)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(GID)) {
		t.Fatalf("adopting an instance without group %d: %v, want a refusal naming it", GID, err)
	}
}

// TestSeccompFallbackOnlyWhenRefused: slirp4netns is started again without
// its seccomp filter only when it refused the filter, not after any
// failure: the warning each --enable-seccomp start prints ("Support for
// seccomp is experimental") made every failure (a /dev/net/tun the user
// may not open, a dead target) a second, unfiltered start, logged as
// "--enable-seccomp refused". The error keeps what slirp4netns said,
// without that warning.
func TestSeccompFallbackOnlyWhenRefused(t *testing.T) {
	requireSlirp(t)
	var logged bytes.Buffer
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)

	// The real slirp4netns against a PID that does not exist.
	sb := exec.Command("true")
	sb.Run()
	n, dir := newNet(t, Config{PID: sb.Process.Pid})
	err := n.Start(context.Background())
	if err == nil || strings.Contains(err.Error(), "WARNING") || !strings.Contains(err.Error(), "slirp4netns said: ") {
		t.Errorf("Start against a dead PID: %v, want what slirp4netns said without its warnings", err)
	}
	if strings.Contains(logged.String(), "refused") {
		t.Errorf("a failure that is not about seccomp was retried without the filter: log %q", logged.String())
	}
	assertGone(t, n, dir)

	// A slirp4netns that does not know the flag: started again without it.
	logged.Reset()
	fake := fakeSlirp(t, `case "$*" in *--enable-seccomp*) echo "WARNING: Support for seccomp is experimental"; echo "slirp4netns: unrecognized option '--enable-seccomp'" >&2; exit 1;; esac; kill -KILL $$`)
	n, dir = newNet(t, Config{PID: os.Getpid(), Binary: fake})
	err = n.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "killed by signal 9") || !strings.Contains(logged.String(), "--enable-seccomp refused") {
		t.Errorf("a refused --enable-seccomp: Start %v, log %q; want a second start without it, logged", err, logged.String())
	}
	assertGone(t, n, dir)
}
