package nft

import (
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
// Root on the host may still open one (nucleus does not: its health
// checks connect from inside the sandbox, its resolvers only answer), but
// new connections into a subnet that no published port (ct status dnat)
// led there are refused, in the chain "fromhost", when they come from
//
//   - a socket of any other uid: unprivileged host users, and every
//     rootless slirp4netns, whose sandboxes would otherwise reach every
//     kernel-NAT sandbox of the host as "the host";
//   - a socket of group DenyGID: the slirp4netns processes nucleus runs
//     as root (uid 0, group slirp.GID) for userspace networks.
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
	fromHostVersion = "fromhost1"
)

// fromHostRules refuse new, not DNATed connections from host sockets of
// other users than root, or of group gid, into n's subnet.
func fromHostRules(n *Network, gid uint32) []baseRule {
	match := cat(addrIn(offDaddr, n.Subnet, false), ctStateNone(), ctNotDNAT())
	owners := [][]expr.Any{skid(expr.MetaKeySKUID, 0, true)}
	if gid != 0 {
		owners = append(owners, skid(expr.MetaKeySKGID, gid, false))
	}
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
