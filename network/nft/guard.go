package nft

import (
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
)

// What may reach the host's loopback and the sandboxes from outside.
//
// Loopback: route_localnet on the bridges (published ports must answer on
// 127.0.0.1) stops the kernel from treating 127.0.0.0/8 arriving on them as
// martian, and DNAT in prerouting would rewrite 127.0.0.1:PORT before the
// martian check anyway (CVE-2020-8558). So the "guard" chain, at raw
// priority (before conntrack and NAT), drops every packet for 127.0.0.0/8
// that did not come in on lo: a neighbour cannot reach a port published on
// 127.0.0.1, a sandbox cannot reach services the host binds to loopback.
// The answers of DNATed loopback connections are not affected: they were
// masqueraded, so they come back addressed to the gateway.
//
// Sandboxes: a packet forwarded into a bridge from another interface must
// belong to a published port (ct status dnat), be an answer (established,
// related) or come from another bridge of the project; anything else —
// a neighbour or another project routing to a sandbox's address — is
// dropped in the chain "inbound".
//
// The host's own sockets: a connection opened on the host goes out through
// the output hook straight into the bridge, past forward and inbound.
// Root on the host may still open one (nucleus's health checks connect
// from inside the sandbox; its resolvers do open connections, to the
// upstreams in a network's dns:, which may be sandbox addresses), but new
// connections into a subnet that no published port (ct status dnat) led
// there are refused, in the chain "fromhost", when they come from
//
//   - a socket of any other uid: unprivileged host users, and every
//     rootless slirp4netns, whose sandboxes would otherwise reach every
//     kernel-NAT sandbox of the host as "the host";
//   - a socket of group DenyGID: the slirp4netns processes nucleus runs
//     as root (uid 0, group slirp.GID) for userspace networks;
//   - a socket marked as another project's resolver: nucleus's resolvers
//     (root, in the supervisor or daemon) set SO_MARK on their forwarding
//     sockets to ResolverMark(project key); a table lets its own project's
//     mark through (a project's own DNS service as upstream) and refuses
//     every other, so `dns:` pointing at another project's sandbox is not
//     a channel between projects (or out of an internal network).
//
// Sockets without an owner (the kernel's own resets and ICMP errors) and
// answers are not affected. They are rejected, not dropped (a TCP reset,
// else ICMP administratively prohibited): a TCP SYN dropped on its way
// out would only be sent again until connect timed out. The same uid and
// group on every table of every state root make the rule hold between
// roots.

const (
	inboundChain  = "inbound"
	fromHostChain = "fromhost"
	// fromHostVersion changes the hash of every network group, so tables
	// made before the fromhost chain existed get its rules.
	fromHostVersion = "fromhost2"
)

// Resolver marks: the top byte says "a nucleus resolver", the rest is a
// keyed hash of the project (see network's resolverMark). Bits 0xc000 stay
// clear: kube-proxy's masquerade and drop marks.
const (
	ResolverMarkMask uint32 = 0xff000000
	ResolverMarkTag  uint32 = 0x6e000000 // 'n'
	resolverMarkBits uint32 = 0x00ff3fff
)

// ResolverMark is the mark of a resolver whose project hashes to h.
func ResolverMark(h uint32) uint32 { return ResolverMarkTag | h&resolverMarkBits }

// fromHostRules refuse new, not DNATed connections from host sockets of
// other users than root, of group gid, or marked as another project's
// resolver than own, into n's subnet.
func fromHostRules(n *Network, gid, own uint32) []baseRule {
	match := cat(addrIn(offDaddr, n.Subnet, false), ctStateNone(), ctNotDNAT())
	owners := [][]expr.Any{skid(expr.MetaKeySKUID, 0, true)}
	if gid != 0 {
		owners = append(owners, skid(expr.MetaKeySKGID, gid, false))
	}
	owners = append(owners, []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ResolverMarkMask), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(ResolverMarkTag)},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(own)},
	})
	var out []baseRule
	for _, o := range owners {
		out = append(out,
			baseRule{chain: fromHostChain, exprs: cat(match, o, rejectTCP())},
			baseRule{chain: fromHostChain, exprs: cat(match, o, []expr.Any{rejectAdmin()})})
	}
	return out
}

func guardRules() []baseRule {
	loop := mustCIDR("127.0.0.0/8")
	return []baseRule{
		{chain: "guard", exprs: cat(iifnameNeq("lo"), addrIn(offDaddr, loop, false), []expr.Any{drop()})},
		// Belt and braces: prerouting never DNATs 127.0.0.0/8 (the host's
		// own clients go through the output hook).
		{chain: "prerouting", exprs: cat(addrIn(offDaddr, loop, false), []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}}), first: true},
	}
}

// inboundRule sends new, not DNATed connections into n's bridge from any
// other interface through the inbound chain.
func inboundRule(n *Network) baseRule {
	return baseRule{chain: "forward", exprs: cat(oifname(n.Bridge, false), iifnameNeq(n.Bridge),
		ctStateNone(), ctNotDNAT(), []expr.Any{jump(inboundChain)})}
}

// inboundGroup fills the inbound chain: the project's bridges return,
// everything else is dropped.
func inboundGroup(t *Table) *group {
	g := &group{key: "inbound"}
	var names []string
	for _, n := range t.Networks {
		names = append(names, n.Bridge)
		g.rules = append(g.rules, baseRule{chain: inboundChain, exprs: cat(iifname(n.Bridge), []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}})})
	}
	g.rules = append(g.rules, baseRule{chain: inboundChain, exprs: []expr.Any{drop()}})
	g.hash = hashOf(names)
	return g
}
