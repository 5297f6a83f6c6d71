package network

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"nucleus/network/dns"
)

// routeHandleAt opens a netlink handle bound to ns with a NETLINK_ROUTE
// socket only, the one family nucleus uses through handles. Without
// families vishvananda/netlink also opens NETLINK_XFRM and NETLINK_NETFILTER
// sockets, and the XFRM one fails with "protocol not supported" on a host
// where the xfrm_user module is neither built in nor loadable. The
// package-level netlink.* functions are safe: their default handle has no
// sockets, so each request opens a socket of its own family only.
func routeHandleAt(ns netns.NsHandle) (*netlink.Handle, error) {
	return netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
}

// ensureBridge creates the bridge (or adopts an existing one), gives it the
// gateway address and brings it up.
func ensureBridge(name, alias string, gw net.IP, subnet *net.IPNet) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("look up bridge %s: %w", name, err)
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, Alias: alias}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("look up new bridge %s: %w", name, err)
		}
		// The alias is not always taken at creation (bridge), set it again.
		if link.Attrs().Alias != alias {
			if err := netlink.LinkSetAlias(link, alias); err != nil {
				deleteLink(name)
				return fmt.Errorf("set alias of bridge %s: %w", name, err)
			}
		}
	} else if link.Type() != "bridge" || (link.Attrs().Alias != alias && link.Attrs().Alias != "") {
		return fmt.Errorf("interface %s exists but is not this network's bridge (type %s, alias %q)", name, link.Type(), link.Attrs().Alias)
	} else if link.Attrs().Alias == "" {
		// Made by a process killed before it set the alias: the name is
		// this root's hash of the network, so the bridge is ours.
		if err := netlink.LinkSetAlias(link, alias); err != nil {
			return fmt.Errorf("set alias of bridge %s: %w", name, err)
		}
	}
	// Pin the bridge's MAC address: a bridge whose address was never set
	// takes the lowest MAC of its ports, so a sandbox joining with a lower
	// one changed the gateway's MAC under the others, and their cached ARP
	// entry sent to nowhere (the resolver and the way out gone for seconds).
	// Setting it, even to itself, makes the kernel keep it.
	if err := netlink.LinkSetHardwareAddr(link, link.Attrs().HardwareAddr); err != nil {
		return fmt.Errorf("pin the MAC address of bridge %s: %w", name, err)
	}
	ones, _ := subnet.Mask.Size()
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw, Mask: net.CIDRMask(ones, 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("set address %s on bridge %s: %w", addr.IPNet, name, err)
	}
	// Published ports must answer on 127.0.0.1: DNAT of the host's loopback
	// traffic sends packets with a 127.x source out through the bridge,
	// which the kernel only allows with route_localnet on that interface.
	if err := writeSysctl("net/ipv4/conf/"+name+"/route_localnet", "1"); err != nil {
		return err
	}
	// No IPv6 on the host side of a network: the bridge's link-local
	// address would let sandboxes reach host services listening on [::].
	if err := disableIPv6("", name); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring up bridge %s: %w", name, err)
	}
	return nil
}

// deleteLink removes a link by name; a missing link is fine.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("look up %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// vethSpec is one sandbox's link.
type vethSpec struct {
	hostName, alias, bridge string
	pid                     int
	ip                      net.IP
	prefix                  int
	gateway                 net.IP
	defaultRoute            bool // internal networks give no default route
}

// createVeth creates the veth pair with its inside end directly in the
// sandbox's network namespace, configures the inside through a netlink
// handle bound to that namespace (no setns of this process's threads) and
// returns the inside interface name (eth0, eth1, ...) and its MAC address.
func createVeth(v vethSpec) (string, string, error) {
	br, err := netlink.LinkByName(v.bridge)
	if err != nil {
		return "", "", fmt.Errorf("look up bridge %s: %w", v.bridge, err)
	}
	ns, err := netns.GetFromPid(v.pid)
	if err != nil {
		return "", "", fmt.Errorf("open network namespace of pid %d: %w", v.pid, err)
	}
	defer ns.Close()
	h, err := routeHandleAt(ns)
	if err != nil {
		return "", "", fmt.Errorf("netlink in namespace of pid %d: %w", v.pid, err)
	}
	defer h.Close()
	inside, _, err := nextEth(h)
	if err != nil {
		return "", "", err
	}

	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: v.hostName, Alias: v.alias, MasterIndex: br.Attrs().Index},
		PeerName:      inside,
		PeerNamespace: netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return "", "", fmt.Errorf("create veth %s for pid %d: %w", v.hostName, v.pid, err)
	}
	fail := func(format string, a ...any) (string, string, error) {
		deleteLink(v.hostName) // takes the inside end with it
		return "", "", fmt.Errorf(format, a...)
	}
	host, err := netlink.LinkByName(v.hostName)
	if err != nil {
		return fail("look up veth %s: %w", v.hostName, err)
	}
	if host.Attrs().Alias != v.alias {
		if err := netlink.LinkSetAlias(host, v.alias); err != nil {
			return fail("set alias of %s: %w", v.hostName, err)
		}
	}
	// Hairpin: a sandbox reaching itself through a published port comes
	// back in on its own bridge port; with br_netfilter loaded the DNAT
	// happens at the bridge, which only sends a frame out the port it came
	// from in hairpin mode.
	if err := netlink.LinkSetHairpin(host, true); err != nil {
		return fail("hairpin mode on %s: %w", v.hostName, err)
	}
	// IPv6 off on both ends before they come up (no link-local address
	// ever); the bridge table drops IPv6 from the veth anyway.
	if err := disableIPv6("", v.hostName); err != nil {
		return fail("%w", err)
	}
	if err := disableIPv6(nsPathOf(v.pid), inside); err != nil {
		return fail("%w", err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fail("bring up %s: %w", v.hostName, err)
	}
	in, err := h.LinkByName(inside)
	if err != nil {
		return fail("look up %s in pid %d: %w", inside, v.pid, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: v.ip, Mask: net.CIDRMask(v.prefix, 32)}}
	if err := h.AddrAdd(in, addr); err != nil {
		return fail("set address %s on %s in pid %d: %w", addr.IPNet, inside, v.pid, err)
	}
	if err := h.LinkSetUp(in); err != nil {
		return fail("bring up %s in pid %d: %w", inside, v.pid, err)
	}
	if lo, err := h.LinkByName("lo"); err == nil {
		h.LinkSetUp(lo)
	}
	if v.defaultRoute && !hasDefaultRoute(h) {
		r := &netlink.Route{LinkIndex: in.Attrs().Index, Gw: v.gateway, Dst: nil}
		if err := h.RouteAdd(r); err != nil {
			return fail("default route via %s in pid %d: %w", v.gateway, v.pid, err)
		}
	}
	return inside, in.Attrs().HardwareAddr.String(), nil
}

// nextEth picks the first free ethN inside the namespace; first reports
// that there is no ethN yet. (The userspace backend uses first to decide
// on its default route; the kernel backend asks hasDefaultRoute.)
func nextEth(h *netlink.Handle) (string, bool, error) {
	links, err := retryDump(h.LinkList)
	if err != nil {
		return "", false, fmt.Errorf("list links in sandbox: %w", err)
	}
	taken := map[string]bool{}
	someEth := false
	for _, l := range links {
		taken[l.Attrs().Name] = true
		someEth = someEth || strings.HasPrefix(l.Attrs().Name, "eth")
	}
	for i := 0; ; i++ {
		if name := fmt.Sprintf("eth%d", i); !taken[name] {
			return name, !someEth, nil
		}
	}
}

// hasDefaultRoute: the first network with a way out provides the default
// route; later ones (and internal networks) only their subnet.
func hasDefaultRoute(h *netlink.Handle) bool {
	routes, err := retryDump(func() ([]netlink.Route, error) { return h.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return false
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			return true
		}
	}
	return false
}

// disableIPv6 sets net.ipv6.conf.IFNAME.disable_ipv6=1 on the host (ns
// empty) or inside the network namespace ns, where "all" and "default" are
// set too; there lo keeps ::1 (writing "all" switches lo off as well), as
// it leads nowhere outside and /etc/hosts names it localhost. A kernel
// without IPv6 has nothing to disable.
func disableIPv6(ns, ifname string) error {
	write := func() error {
		set := [][2]string{{ifname, "1"}}
		if ns != "" {
			set = [][2]string{{"all", "1"}, {"default", "1"}, {ifname, "1"}, {"lo", "0"}}
		}
		for _, kv := range set {
			err := writeSysctl("net/ipv6/conf/"+kv[0]+"/disable_ipv6", kv[1])
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	}
	if ns == "" {
		return write()
	}
	// /proc/sys/net shows the namespace of the thread that opens it.
	if err := dns.InNetns(ns, write); err != nil {
		return fmt.Errorf("in namespace %s: %w", ns, err)
	}
	return nil
}

func nsPathOf(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/ns/net" }

func writeSysctl(path, value string) error {
	if err := os.WriteFile("/proc/sys/"+path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(path, "/", "."), value, err)
	}
	return nil
}

func readSysctl(path string) string {
	b, _ := os.ReadFile("/proc/sys/" + path)
	return strings.TrimSpace(string(b))
}

// removeOrphanLinks deletes links whose alias starts with prefix: what a
// crash between creating a link and recording it would leave behind.
func removeOrphanLinks(prefix string) error {
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, linkPrefix) && strings.HasPrefix(l.Attrs().Alias, prefix) {
			if err := deleteLink(l.Attrs().Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
