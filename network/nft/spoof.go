package nft

import (
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// spoofRules are the bridge-table rules for what a sandbox may send
// through its veth. They hold whatever the sandbox does inside its own
// namespace (CAP_NET_ADMIN included), because they live on the host.
//
// No IPv6 at all: the sandbox's eth0 has IPv6 switched off, and a sandbox
// that switches it back on must not reach the host (services on [::] are
// reachable at the bridge's link-local address) or its peers around the
// IPv4 rules.
func spoofRules(s *Sandbox) []baseRule {
	proto := func(p uint16) []expr.Any {
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)}}
	}
	rule := func(parts ...[]expr.Any) baseRule {
		return baseRule{bridge: true, chain: spoofChain, exprs: cat(append([][]expr.Any{iifname(s.HostIf)}, parts...)...)}
	}
	out := []baseRule{rule(proto(unix.ETH_P_IPV6), []expr.Any{drop()})}
	if s.Egress != nil {
		// Only its own IPv4 address, so it cannot dodge its egress chain.
		out = append(out, rule(proto(unix.ETH_P_IP), addrIs(offSaddr, s.IP, true), []expr.Any{drop()}))
	}
	return out
}
