package network

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"nucleus/internal/flock"
)

// Pools automatic subnets are taken from, in order, as /24s (spec.AutoSubnetBits:
// validate counts replicas against that size). They are
// private ranges rarely used by home and office networks.
var subnetPools = []string{"10.89.0.0/16", "10.90.0.0/16", "10.91.0.0/16", "172.29.0.0/16"}

// hostLockPath serialises network state changes (subnet allocation, bridge
// creation, records) between nucleus processes of any state root.
const hostLockPath = "/run/lock/nucleus-network.lock"

// lockHost takes the host-wide lock; the returned function releases it.
// Without a writable /run/lock (rootless) it degrades to no lock.
func lockHost() func() {
	unlock, err := flock.Lock(hostLockPath, unix.LOCK_EX)
	if err != nil {
		return func() {}
	}
	return unlock
}

// usedNets returns the networks a new subnet must not overlap: subnets of
// every recorded network of this root, every IPv4 address on the host
// (other roots' bridges included) and every host route except the default.
func (m *Manager) usedNets() ([]*net.IPNet, error) {
	var used []*net.IPNet
	projects, err := m.listProjects()
	if err != nil {
		return nil, err
	}
	for _, p := range projects {
		nets, err := m.loadProject(p)
		if err != nil {
			return nil, err
		}
		for _, n := range nets {
			if _, c, err := net.ParseCIDR(n.Subnet); err == nil {
				used = append(used, c)
			}
		}
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		used = append(used, &net.IPNet{IP: a.IP.Mask(a.Mask), Mask: a.Mask})
	}
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list host routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if ones, _ := r.Dst.Mask.Size(); ones == 0 || r.Dst.IP.IsLoopback() {
			continue
		}
		used = append(used, r.Dst)
	}
	return used, nil
}

func overlaps(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

// allocSubnet picks the first free /24 of the pools.
func (m *Manager) allocSubnet() (*net.IPNet, error) {
	used, err := m.usedNets()
	if err != nil {
		return nil, err
	}
	for _, p := range subnetPools {
		_, pool, _ := net.ParseCIDR(p)
		base := ip4ToInt(pool.IP)
		ones, _ := pool.Mask.Size()
		for i := 0; i < 1<<(24-ones); i++ {
			cand := &net.IPNet{IP: intToIP4(base + uint32(i)<<8), Mask: net.CIDRMask(24, 32)}
			free := true
			for _, u := range used {
				if overlaps(cand, u) {
					free = false
					break
				}
			}
			if free {
				return cand, nil
			}
		}
	}
	return nil, fmt.Errorf("no free /24 left in the subnet pools %v", subnetPools)
}

// checkSubnetFree refuses a configured subnet that overlaps a host address
// or route (another project's bridge included).
func (m *Manager) checkSubnetFree(c *net.IPNet, project, network string) error {
	used, err := m.usedNets()
	if err != nil {
		return err
	}
	for _, u := range used {
		if overlaps(c, u) {
			return fmt.Errorf("subnet %s of network %s (project %s) overlaps %s already used on this host", c, network, project, u)
		}
	}
	return nil
}

func ip4ToInt(ip net.IP) uint32 { return binary.BigEndian.Uint32(ip.To4()) }

func intToIP4(v uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, v)
	return ip
}

// firstHost is the gateway: the first address after the network address.
func firstHost(c *net.IPNet) net.IP { return intToIP4(ip4ToInt(c.IP.Mask(c.Mask)) + 1) }

// allocAddr picks the lowest free host address of c that is not in taken.
func allocAddr(c *net.IPNet, taken map[string]bool) (net.IP, error) {
	ones, bits := c.Mask.Size()
	base := ip4ToInt(c.IP.Mask(c.Mask))
	size := uint32(1) << (bits - ones)
	for off := uint32(2); off+1 < size; off++ { // skip network, gateway, broadcast
		ip := intToIP4(base + off)
		if !taken[ip.String()] {
			return ip, nil
		}
	}
	return nil, permanent(fmt.Errorf("no free address left in %s", c))
}

// checkHostAddr validates a static address: inside c and not the network,
// gateway or broadcast address.
func checkHostAddr(c *net.IPNet, ip net.IP) error {
	if ip == nil || ip.To4() == nil {
		return fmt.Errorf("not an IPv4 address")
	}
	if !c.Contains(ip) {
		return fmt.Errorf("%s is outside subnet %s", ip, c)
	}
	ones, bits := c.Mask.Size()
	off := ip4ToInt(ip) - ip4ToInt(c.IP.Mask(c.Mask))
	if off < 2 || off >= (uint32(1)<<(bits-ones))-1 {
		return fmt.Errorf("%s is the network, gateway or broadcast address of %s", ip, c)
	}
	return nil
}
