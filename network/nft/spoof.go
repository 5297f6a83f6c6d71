package nft

import (
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// spoofRules are the bridge-table rules for what a sandbox may send
// through its veth, for every sandbox. They hold whatever the sandbox does
// inside its own namespace (CAP_NET_ADMIN or CAP_NET_RAW included),
// because they live on the host:
//
//   - only IPv4 and ARP frames: no IPv6 (eth0 has IPv6 switched off; one
//     that switches it back on must reach neither host services on [::]
//     through the bridge's link-local address nor its peers), no VLAN tags,
//     no other protocols;
//   - only its own MAC address as the frame's source (when recorded);
//   - only its own IPv4 address as source, so it can neither dodge its
//     egress chain nor pose as a peer;
//   - ARP only with its own address and MAC as sender, so it cannot
//     poison the gateway's or its peers' neighbour caches.
func spoofRules(s *Sandbox) []baseRule {
	rule := func(parts ...[]expr.Any) baseRule {
		return baseRule{bridge: true, chain: spoofChain, exprs: cat(append([][]expr.Any{iifname(s.HostIf)}, parts...)...)}
	}
	// The ethertype as sent: read from the frame, where a VLAN tag shows
	// as 0x8100 even when the kernel keeps it out of band.
	etherType := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 12, Len: 2}}
	neq := func(v uint16) expr.Any {
		return &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.BigEndian.PutUint16(v)}
	}
	is := func(p uint16) []expr.Any {
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)}}
	}
	bytesNeq := func(base expr.PayloadBase, off uint32, b []byte) []expr.Any {
		return []expr.Any{&expr.Payload{DestRegister: 1, Base: base, Offset: off, Len: uint32(len(b))},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: b}}
	}
	dropIt := []expr.Any{drop()}
	out := []baseRule{
		rule(etherType, []expr.Any{neq(unix.ETH_P_IP), neq(unix.ETH_P_ARP)}, dropIt),
		rule(is(unix.ETH_P_IP), addrIs(offSaddr, s.IP, true), dropIt),
		// ARP for Ethernet/IPv4: sender MAC at 8, sender address at 14.
		rule(is(unix.ETH_P_ARP), bytesNeq(expr.PayloadBaseNetworkHeader, 14, s.IP.To4()), dropIt),
	}
	if len(s.MAC) == 6 {
		out = append(out,
			rule(bytesNeq(expr.PayloadBaseLLHeader, 6, s.MAC), dropIt),
			rule(is(unix.ETH_P_ARP), bytesNeq(expr.PayloadBaseNetworkHeader, 8, s.MAC), dropIt))
	}
	return out
}
