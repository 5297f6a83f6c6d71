package network

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

// sysctlIn reads a sysctl inside pid's network namespace (pid 0: the host).
func sysctlIn(t testing.TB, pid int, path string) string {
	t.Helper()
	var v string
	if err := in(pid, func() error {
		b, err := os.ReadFile("/proc/sys/" + path)
		v = strings.TrimSpace(string(b))
		return err
	}); err != nil {
		t.Fatalf("read %s in pid %d: %v", path, pid, err)
	}
	return v
}

// enableIPv6 does what a service with CAP_NET_ADMIN may do in its own
// namespace: switch IPv6 back on and give eth0 a link-local address.
func enableIPv6(t testing.TB, pid int, addr string) {
	t.Helper()
	if err := in(pid, func() error {
		for _, k := range []string{"all", "default", "eth0"} {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+k+"/disable_ipv6", []byte("0"), 0o644); err != nil {
				return err
			}
		}
		return runIP("-6", "addr", "add", addr+"/64", "dev", "eth0", "nodad")
	}); err != nil {
		t.Fatalf("enable IPv6 in pid %d: %v", pid, err)
	}
}

// dial6 connects from pid's namespace to [addr%eth0]:port and reads the answer.
func dial6(pid int, addr string, port int) (string, error) {
	return dialIn6(pid, fmt.Sprintf("[%s%%eth0]:%d", addr, port))
}

func dialIn6(pid int, hostport string) (string, error) {
	var c net.Conn
	if err := in(pid, func() (err error) {
		c, err = net.DialTimeout("tcp6", hostport, time.Second)
		return
	}); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// serve6 answers every TCP connection on [::]:port in pid's namespace with msg.
func serve6(t testing.TB, pid, port int, msg string) {
	t.Helper()
	serveOn6(t, pid, fmt.Sprintf("[::]:%d", port), msg)
}

func serveOn6(t testing.TB, pid int, addr, msg string) {
	t.Helper()
	var l net.Listener
	if err := in(pid, func() (err error) { l, err = net.Listen("tcp6", addr); return }); err != nil {
		t.Fatalf("listen %s in pid %d: %v", addr, pid, err)
	}
	testutil.Serve(t, l, func(c net.Conn) {
		c.Write([]byte(msg))
		c.Close()
	})
}

// linkLocalOf is the bridge's IPv6 link-local address, or the one the
// kernel would derive from its MAC (EUI-64) when it has none.
func linkLocalOf(t testing.TB, name string) string {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if addrs, _ := netlink.AddrList(l, netlink.FAMILY_V6); len(addrs) > 0 {
		// A new bridge's address is tentative (DAD) for a second or two.
		for i := 0; i < 50 && addrs[0].Flags&unix.IFA_F_TENTATIVE != 0; i++ {
			time.Sleep(100 * time.Millisecond)
			if addrs, _ = netlink.AddrList(l, netlink.FAMILY_V6); len(addrs) == 0 {
				break
			}
		}
		if len(addrs) > 0 {
			return addrs[0].IP.String()
		}
	}
	m := l.Attrs().HardwareAddr
	ip := net.IP{0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]}
	return ip.String()
}

// CRITICAL-1: no sandbox has an IPv6 path, on a normal or an internal
// network, even after it switches IPv6 back on inside its own namespace:
// not to a host service on [::] through the bridge's link-local address,
// not to a peer.
func TestSandboxesHaveNoIPv6(t *testing.T) {
	for _, internal := range []bool{false, true} {
		t.Run(fmt.Sprintf("internal=%v", internal), func(t *testing.T) {
			e := newEnv(t)
			ni := e.network("n", func(n *Config) { n.Internal = internal })
			a, b := sandbox(t), sandbox(t)
			e.attach(Attachment{Network: "n", Service: "a", PID: a})
			bi := e.attach(Attachment{Network: "n", Service: "b", PID: b})
			mustTalkPeers(t, a, b, bi.IP)

			for _, k := range []string{"all", "default", "eth0"} {
				if v := sysctlIn(t, a, "net/ipv6/conf/"+k+"/disable_ipv6"); v != "1" {
					t.Errorf("inside the sandbox net.ipv6.conf.%s.disable_ipv6 = %s, want 1", k, v)
				}
			}
			host, _ := vethNames(e.m.root, e.project, "n", "a", 1)
			for _, k := range []string{ni.Bridge, host} {
				if v := sysctlIn(t, 0, "net/ipv6/conf/"+k+"/disable_ipv6"); v != "1" {
					t.Errorf("host net.ipv6.conf.%s.disable_ipv6 = %s, want 1", k, v)
				}
			}

			// IPv6 on the sandbox's own loopback stays (/etc/hosts maps
			// localhost to ::1 too).
			lport := testutil.FreePort(t)
			serveOn6(t, a, fmt.Sprintf("[::1]:%d", lport), "lo6")
			if got, err := dialIn6(a, fmt.Sprintf("[::1]:%d", lport)); err != nil || got != "lo6" {
				t.Errorf("::1 inside the sandbox: %q, %v", got, err)
			}

			port := testutil.FreePort(t)
			serve6(t, 0, port, "host-secret")
			bridgeLL := linkLocalOf(t, ni.Bridge)
			enableIPv6(t, a, "fe80::a")
			enableIPv6(t, b, "fe80::b")
			serve6(t, b, port, "peer-secret")
			if got, err := dial6(a, bridgeLL, port); err == nil {
				t.Errorf("sandbox reached the host's [::]:%d at %s over IPv6: %q", port, bridgeLL, got)
			}
			if got, err := dial6(a, "fe80::b", port); err == nil {
				t.Errorf("sandbox reached a peer over IPv6: %q", got)
			}
		})
	}
}

// mustTalkPeers checks IPv4 still works between two sandboxes.
func mustTalkPeers(t testing.TB, client, server int, serverIP string) {
	t.Helper()
	port := testutil.FreePort(t)
	serveEcho(t, server, fmt.Sprintf(":%d", port), "v4:")
	mustTalk(t, client, fmt.Sprintf("%s:%d", serverIP, port), "v4:")
}

// The userspace hub: the same inside the sandbox, and no IPv6 between peers.
func TestUserspaceSandboxesHaveNoIPv6(t *testing.T) {
	requireSlirp4netns(t)
	e := newEnv(t)
	e.usNetwork("n", nil)
	a, b := sandbox(t), sandbox(t)
	e.attach(Attachment{Network: "n", Service: "a", PID: a})
	bi := e.attach(Attachment{Network: "n", Service: "b", PID: b})
	mustTalkPeers(t, a, b, bi.IP)
	if v := sysctlIn(t, a, "net/ipv6/conf/eth0/disable_ipv6"); v != "1" {
		t.Errorf("inside the sandbox net.ipv6.conf.eth0.disable_ipv6 = %s, want 1", v)
	}
	port := testutil.FreePort(t)
	enableIPv6(t, a, "fe80::a")
	enableIPv6(t, b, "fe80::b")
	serve6(t, b, port, "peer-secret")
	if got, err := dial6(a, "fe80::b", port); err == nil {
		t.Errorf("sandbox reached a peer over IPv6 through the hub: %q", got)
	}
}
