package testutil

import (
	"crypto/rand"
	"fmt"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Outside is a network namespace standing in for the world beyond the host,
// linked to the host by a veth pair.
type Outside struct {
	HostIf   string    // the host end of the veth pair
	HostAddr string    // its address
	Addrs    [2]string // two addresses of the namespace's end (eth0)
}

// LinkOutside links the network namespace at nsPath to the host: a veth
// pair whose host end (prefix + random) gets .1 and whose namespace end
// (eth0) gets .2 and .3 of a random /24 of 198.<block>.0.0/16 (the
// benchmarking range 198.18.0.0/15: packages whose tests run in parallel
// take different blocks), with loopback up and a default route via the
// host. Cleanup deletes the pair and checks it is gone.
func LinkOutside(t testing.TB, nsPath string, block int, prefix string) Outside {
	t.Helper()
	b := make([]byte, 1)
	for b[0] < 10 || b[0] > 250 {
		_, _ = rand.Read(b)
	}
	net24 := fmt.Sprintf("198.%d.%d.", block, b[0])
	o := Outside{HostIf: prefix + RandHex(4), HostAddr: net24 + "1", Addrs: [2]string{net24 + "2", net24 + "3"}}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: o.HostIf}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("create outside veth %s: %v", o.HostIf, err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(o.HostIf); err == nil {
			_ = netlink.LinkDel(l)
		}
		if _, err := netlink.LinkByName(o.HostIf); err == nil {
			t.Errorf("outside veth %s left behind", o.HostIf)
		}
	})
	host, err := netlink.LinkByName(o.HostIf)
	if err != nil {
		t.Fatal(err)
	}
	if err := addAddrUp(netlink.AddrAdd, netlink.LinkSetUp, host, o.HostAddr); err != nil {
		t.Fatalf("outside veth host end: %v", err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	in0, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range o.Addrs {
		if err := addAddrUp(h.AddrAdd, h.LinkSetUp, in0, a); err != nil {
			t.Fatalf("outside veth namespace end: %v", err)
		}
	}
	if lo, err := h.LinkByName("lo"); err == nil {
		_ = h.LinkSetUp(lo)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: in0.Attrs().Index, Gw: net.ParseIP(o.HostAddr)}); err != nil {
		t.Fatalf("outside default route: %v", err)
	}
	return o
}

// addAddrUp gives link addr/24 and brings it up, through the given handle's
// functions (host or namespace).
func addAddrUp(add func(netlink.Link, *netlink.Addr) error, up func(netlink.Link) error, link netlink.Link, addr string) error {
	a, err := netlink.ParseAddr(addr + "/24")
	if err != nil {
		return err
	}
	if err := add(link, a); err != nil {
		return fmt.Errorf("add %s to %s: %w", addr, link.Attrs().Name, err)
	}
	return up(link)
}
