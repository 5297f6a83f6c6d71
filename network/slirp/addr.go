package slirp

import (
	"encoding/binary"
	"fmt"
	"net"
)

// Addresses are the fixed addresses slirp4netns uses inside a subnet.
type Addresses struct {
	Subnet  *net.IPNet
	Guest   net.IP // base + 100: the address --configure gives the tap device
	Gateway net.IP // base + 2: slirp's router (and NAT to the host)
	DNS     net.IP // base + 3: slirp's built-in DNS forwarder
}

// MinPrefixBits: slirp4netns needs room for base+100, so anything smaller
// than a /25 is refused before it is started.
const MinPrefixBits = 25

// DefaultSubnet is slirp4netns's own default.
const DefaultSubnet = "10.0.2.0/24"

// AddressesOf validates an IPv4 subnet for slirp4netns and derives its
// fixed addresses.
func AddressesOf(subnet string) (Addresses, error) {
	ip, ipnet, err := net.ParseCIDR(subnet)
	if err != nil || ip.To4() == nil {
		return Addresses{}, fmt.Errorf("slirp4netns subnet %q: want an IPv4 CIDR such as %s", subnet, DefaultSubnet)
	}
	ones, _ := ipnet.Mask.Size()
	if ones > MinPrefixBits {
		return Addresses{}, fmt.Errorf("slirp4netns subnet %s is too small: need at least a /%d (the guest address is the subnet base + 100)", subnet, MinPrefixBits)
	}
	base := binary.BigEndian.Uint32(ipnet.IP.To4())
	at := func(off uint32) net.IP {
		b := make(net.IP, 4)
		binary.BigEndian.PutUint32(b, base+off)
		return b
	}
	return Addresses{Subnet: ipnet, Guest: at(100), Gateway: at(2), DNS: at(3)}, nil
}

// CheckStatic rejects a requested static address other than the guest
// address: slirp4netns --configure always assigns base + 100.
func (a Addresses) CheckStatic(requested string) error {
	if requested == "" {
		return nil
	}
	ip := net.ParseIP(requested)
	if ip == nil || !ip.Equal(a.Guest) {
		return fmt.Errorf("static address %s cannot be used with slirp4netns on %s: its guest address is always %s", requested, a.Subnet, a.Guest)
	}
	return nil
}
