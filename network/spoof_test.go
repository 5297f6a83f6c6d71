package network

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
	"nucleus/spec"
)

// macIn is the MAC address of dev inside pid's namespace.
func macIn(t testing.TB, pid int, dev string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	if err := in(pid, func() error {
		l, err := netlink.LinkByName(dev)
		if err == nil {
			mac = l.Attrs().HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// sendARPRequest sends, from pid's eth0 through a raw socket (what
// CAP_NET_RAW allows), "who has target? tell senderIP at senderMAC".
func sendARPRequest(t testing.TB, pid int, senderMAC net.HardwareAddr, senderIP, target string) {
	t.Helper()
	if err := in(pid, func() error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		proto := uint16(unix.ETH_P_ARP)
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(proto>>8|proto<<8))
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		frame := make([]byte, 0, 42)
		frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		frame = append(frame, l.Attrs().HardwareAddr...) // the frame's own source: the real MAC
		frame = binary.BigEndian.AppendUint16(frame, unix.ETH_P_ARP)
		frame = binary.BigEndian.AppendUint16(frame, 1)             // Ethernet
		frame = binary.BigEndian.AppendUint16(frame, unix.ETH_P_IP) // IPv4
		frame = append(frame, 6, 4, 0, 1)                           // sizes, request
		frame = append(frame, senderMAC...)
		frame = append(frame, net.ParseIP(senderIP).To4()...)
		frame = append(frame, 0, 0, 0, 0, 0, 0)
		frame = append(frame, net.ParseIP(target).To4()...)
		to := &unix.SockaddrLinklayer{Protocol: proto>>8 | proto<<8, Ifindex: l.Attrs().Index, Halen: 6,
			Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		return unix.Sendto(fd, frame, 0, to)
	}); err != nil {
		t.Fatalf("send ARP from pid %d: %v", pid, err)
	}
}

// hostNeighbour is the MAC the host's neighbour table holds for ip on dev.
func hostNeighbour(t testing.TB, dev, ip string) string {
	t.Helper()
	l, err := netlink.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	neighs, err := netlink.NeighList(l.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range neighs {
		if n.IP.String() == ip {
			return n.HardwareAddr.String()
		}
	}
	return ""
}

// MEDIUM-1: every sandbox, with or without egress rules, may only send
// from its own IPv4 address, and ARP only as itself.
func TestSandboxCannotSpoofAddressOrARP(t *testing.T) {
	e := newEnv(t)
	ni := e.network("n", nil)
	a, b := sandbox(t), sandbox(t)
	ai := e.attach(Attachment{Network: "n", Service: "a", PID: a})
	bi := e.attach(Attachment{Network: "n", Service: "b", PID: b})
	port := testutil.FreePort(t)
	serveEcho(t, b, fmt.Sprintf(":%d", port), "b:")
	mustTalk(t, a, fmt.Sprintf("%s:%d", bi.IP, port), "b:")
	mustTalk(t, 0, fmt.Sprintf("%s:%d", bi.IP, port), "b:") // the host learns b's MAC
	bMAC := macIn(t, b, "eth0")
	if got := hostNeighbour(t, ni.Bridge, bi.IP); got != bMAC.String() {
		t.Fatalf("host neighbour of %s = %q, want %s", bi.IP, got, bMAC)
	}

	// An unused address of the subnet as source.
	gw := net.ParseIP(ni.Gateway).To4()
	spoof := net.IPv4(gw[0], gw[1], gw[2], 200).String()
	if err := in(a, func() error { return runIP("addr", "add", spoof+"/32", "dev", "eth0") }); err != nil {
		t.Fatal(err)
	}
	var c net.Conn
	err := in(a, func() (err error) {
		d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(spoof)}}
		c, err = d.Dial("tcp4", net.JoinHostPort(bi.IP, fmt.Sprint(port)))
		return
	})
	if err == nil {
		c.Close()
		t.Errorf("sandbox without egress rules sent from a forged address %s", spoof)
	}

	// ARP poisoning: claim b's address, with a's MAC and with a made-up one.
	aMAC := macIn(t, a, "eth0")
	sendARPRequest(t, a, aMAC, bi.IP, ni.Gateway)
	sendARPRequest(t, a, net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}, ai.IP, ni.Gateway)
	time.Sleep(200 * time.Millisecond)
	if got := hostNeighbour(t, ni.Bridge, bi.IP); got != bMAC.String() {
		t.Errorf("after a's forged ARP the host sends %s's traffic to %s, want %s", bi.IP, got, bMAC)
	}
	if got := hostNeighbour(t, ni.Bridge, ai.IP); got == "02:00:00:00:00:42" {
		t.Errorf("a forged sender MAC in ARP was taken for %s", ai.IP)
	}
	mustTalk(t, 0, fmt.Sprintf("%s:%d", bi.IP, port), "b:")
}

// neighbourIn is the MAC pid's namespace holds for ip on eth0.
func neighbourIn(t testing.TB, pid int, ip string) string {
	t.Helper()
	var mac string
	if err := in(pid, func() error {
		mac = hostNeighbour(t, "eth0", ip)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// MEDIUM-1, both backends: a sandbox cannot make a peer send the
// gateway's traffic to it by forged ARP.
func TestPeerARPCacheNotPoisoned(t *testing.T) {
	for _, nat := range []string{spec.NATKernel, spec.NATUserspace} {
		t.Run(nat, func(t *testing.T) {
			if nat == spec.NATUserspace {
				requireSlirp4netns(t)
			}
			e := newEnv(t)
			ni := e.network("n", func(n *Config) { n.NAT = nat })
			a, b := sandbox(t), sandbox(t)
			e.attach(Attachment{Network: "n", Service: "a", PID: a})
			bi := e.attach(Attachment{Network: "n", Service: "b", PID: b})
			if _, err := resolve(b, ni.Gateway, "a"); err != nil { // b learns the gateway's MAC
				t.Fatal(err)
			}
			gwMAC := neighbourIn(t, b, ni.Gateway)
			if gwMAC == "" {
				t.Fatalf("b has no neighbour entry for the gateway")
			}
			sendARPRequest(t, a, macIn(t, a, "eth0"), ni.Gateway, bi.IP)
			time.Sleep(200 * time.Millisecond)
			if got := neighbourIn(t, b, ni.Gateway); got != gwMAC {
				t.Errorf("after a's forged ARP b sends the gateway's traffic to %s, want %s", got, gwMAC)
			}
		})
	}
}
