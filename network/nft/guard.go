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

const inboundChain = "inbound"

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
