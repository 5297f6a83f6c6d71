package network

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"nucleus/internal/procstat"
	"nucleus/network/dns"
)

// isPinned reports whether path is a mounted network namespace.
func isPinned(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// ensureHub creates the hub namespace pinned at pin, or adopts an existing
// pin; created says which.
func ensureHub(pin string) (created bool, err error) {
	if isPinned(pin) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(pin), 0o700); err != nil {
		return false, fmt.Errorf("hub namespace directory: %w", err)
	}
	if err := os.WriteFile(pin, nil, 0o600); err != nil {
		return false, fmt.Errorf("hub namespace pin %s: %w", pin, err)
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it is in the new namespace, and a
		// locked goroutine's thread is discarded when the goroutine ends.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("new network namespace: %w", err)
			return
		}
		self := "/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/ns/net"
		if err := unix.Mount(self, pin, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("pin network namespace on %s: %w", pin, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(pin)
		return false, err
	}
	return true, nil
}

// removeHub unpins the hub namespace (which destroys it, with its bridge,
// veths and tap0 once slirp4netns is gone) and removes the pin file.
func removeHub(pin string) error {
	if pin == "" {
		return nil
	}
	if isPinned(pin) {
		if err := unix.Unmount(pin, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unpin hub namespace %s: %w", pin, err)
		}
	}
	if err := os.Remove(pin); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove hub namespace pin: %w", err)
	}
	return nil
}

// hubHandle opens a netlink handle bound to the hub namespace.
func hubHandle(pin string) (*netlink.Handle, func(), error) {
	ns, err := netns.GetFromPath(pin)
	if err != nil {
		return nil, nil, fmt.Errorf("open hub namespace %s: %w", pin, err)
	}
	h, err := routeHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, nil, fmt.Errorf("netlink in hub namespace: %w", err)
	}
	return h, func() { h.Close(); ns.Close() }, nil
}

// configureHub brings up lo and the bridge with the gateway address, and
// enables forwarding, all inside the hub. Idempotent.
func configureHub(pin string, gw net.IP, prefix int) error {
	h, done, err := hubHandle(pin)
	if err != nil {
		return err
	}
	defer done()
	if lo, err := h.LinkByName("lo"); err == nil {
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("hub: bring up lo: %w", err)
		}
	}
	br, err := h.LinkByName(hubBridge)
	if err != nil {
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: hubBridge, MTU: hubMTU}}); err != nil {
			return fmt.Errorf("hub: create bridge: %w", err)
		}
		if br, err = h.LinkByName(hubBridge); err != nil {
			return fmt.Errorf("hub: bridge: %w", err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.To4(), Mask: net.CIDRMask(prefix, 32)}}
	if err := h.AddrReplace(br, addr); err != nil {
		return fmt.Errorf("hub: address %s on bridge: %w", addr.IPNet, err)
	}
	if err := h.LinkSetUp(br); err != nil {
		return fmt.Errorf("hub: bring up bridge: %w", err)
	}
	// /proc/sys/net shows the namespace of the thread that opens it.
	// No IPv6 in the hub (bridge, veths, tap0): "all" and "default" are the
	// hub's own, so switching them off touches nothing outside it.
	return dns.InNetns(pin, func() error {
		for _, k := range []string{"all", "default", hubBridge} {
			err := writeSysctl("net/ipv6/conf/"+k+"/disable_ipv6", "1")
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("hub: %w", err)
			}
		}
		// pasta hands a published port's connections from the host's
		// loopback to the hub's 127.0.0.1:PORT (its splice path), which the
		// hub table DNATs into the bridge: that takes route_localnet on it,
		// as on a kernel network's bridge (the guard chain still drops
		// 127.0.0.0/8 that arrives from a sandbox).
		if err := writeSysctl("net/ipv4/conf/"+hubBridge+"/route_localnet", "1"); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
	})
}

// hubVeth connects the sandbox of pid to the hub's bridge: host end
// hostName in the hub, ethN in the sandbox with ip/prefix, default route
// via gw when it is the sandbox's first ethN. Returns the inside name and MAC.
func hubVeth(pin, hostName string, pid int, ip net.IP, prefix int, gw net.IP) (string, string, error) {
	hh, done, err := hubHandle(pin)
	if err != nil {
		return "", "", err
	}
	defer done()
	sbNS, err := netns.GetFromPid(pid)
	if err != nil {
		return "", "", fmt.Errorf("open network namespace of pid %d: %w", pid, err)
	}
	defer sbNS.Close()
	sh, err := routeHandleAt(sbNS)
	if err != nil {
		return "", "", fmt.Errorf("netlink in namespace of pid %d: %w", pid, err)
	}
	defer sh.Close()

	if old, err := hh.LinkByName(hostName); err == nil {
		hh.LinkDel(old) // an earlier, dead sandbox of this replica
	}
	br, err := hh.LinkByName(hubBridge)
	if err != nil {
		return "", "", fmt.Errorf("hub bridge: %w", err)
	}
	inside, first, err := nextEth(sh)
	if err != nil {
		return "", "", err
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: hostName, MTU: hubMTU, MasterIndex: br.Attrs().Index},
		PeerName:      inside,
		PeerMTU:       hubMTU,
		PeerNamespace: netlink.NsFd(int(sbNS)),
	}
	if err := hh.LinkAdd(veth); err != nil {
		return "", "", fmt.Errorf("create veth %s for pid %d: %w", hostName, pid, err)
	}
	fail := func(format string, a ...any) (string, string, error) {
		if l, err := hh.LinkByName(hostName); err == nil {
			hh.LinkDel(l) // takes the inside end with it
		}
		return "", "", fmt.Errorf(format, a...)
	}
	host, err := hh.LinkByName(hostName)
	if err != nil {
		return fail("look up %s in hub: %w", hostName, err)
	}
	if err := disableIPv6(nsPathOf(pid), inside); err != nil {
		return fail("%w", err)
	}
	if err := hh.LinkSetUp(host); err != nil {
		return fail("bring up %s in hub: %w", hostName, err)
	}
	in, err := sh.LinkByName(inside)
	if err != nil {
		return fail("look up %s in pid %d: %w", inside, pid, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.To4(), Mask: net.CIDRMask(prefix, 32)}}
	if err := sh.AddrAdd(in, addr); err != nil {
		return fail("set address %s on %s in pid %d: %w", addr.IPNet, inside, pid, err)
	}
	if err := sh.LinkSetUp(in); err != nil {
		return fail("bring up %s in pid %d: %w", inside, pid, err)
	}
	if lo, err := sh.LinkByName("lo"); err == nil {
		sh.LinkSetUp(lo)
	}
	if first {
		if err := sh.RouteReplace(&netlink.Route{LinkIndex: in.Attrs().Index, Gw: gw.To4()}); err != nil {
			return fail("default route via %s in pid %d: %w", gw, pid, err)
		}
	}
	return inside, in.Attrs().HardwareAddr.String(), nil
}

// deleteHubLink removes a sandbox's veth from the hub; gone is fine.
func deleteHubLink(pin, name string) error {
	if !isPinned(pin) {
		return nil // the hub is gone, and its links with it
	}
	h, done, err := hubHandle(pin)
	if err != nil {
		return err
	}
	defer done()
	l, err := h.LinkByName(name)
	if err != nil {
		return nil
	}
	if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s in hub: %w", name, err)
	}
	return nil
}

// killOrphanSlirp ends a slirp4netns left by an earlier process, if pid
// still is that process (its command line names our runtime directory).
func killOrphanSlirp(pid int, dir string) {
	if !isOurSlirp(pid, dir) {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for range 200 { // not our child: poll until it is gone
		if !isOurSlirp(pid, dir) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isOurSlirp(pid int, dir string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	if !procstat.Running(pid) {
		return false // gone, or a zombie: already dead, waiting for its parent
	}
	return strings.Contains(string(b), dir+"/")
}
