// Package nft builds the one nftables table of a project (kernel NAT) from a
// plain description and applies it in a single netlink batch, so every
// change (a new sandbox, changed ports or egress rules) is atomic.
//
// Layout of table "ip NAME" (NAME = nucleus prefix + root ID + project):
//
//	prerouting  nat    dstnat  jump pf_ID per sandbox with published ports
//	output      nat    dstnat  the same, for the host's own traffic (127.0.0.1:PORT)
//	postrouting nat    srcnat  masquerade out of the subnet; masquerade of DNATed
//	                           localhost and hairpin traffic into the bridge
//	forward     filter         established first; new connections into a bridge
//	                           from elsewhere jump inbound; jump eg_ID per
//	                           sandbox with egress rules; internal networks closed
//	input       filter         the same, for traffic addressed to the host itself
//	guard       filter, raw    drop 127.0.0.0/8 not arriving on lo (guard.go)
//	fromhost    filter, output new connections from the host's own sockets into
//	                           the subnets: only uid 0 outside group DenyGID
//	                           and without another project's resolver mark,
//	                           or published ports (guard.go)
//	inbound     regular        the project's bridges return, the rest is dropped
//	pf_ID       regular        one sandbox's DNAT rules, tagged "pf PROTO IP START END"
//	eg_ID       regular        one sandbox's egress policy: DNS, peers, allow
//	                           entries, set dom_ID (domain rules), then counted reject
//
// and table "bridge NAME" holds anti-spoofing for every sandbox (spoof.go):
// only IPv4 and ARP, from its own MAC and address, so changing them (with
// CAP_NET_ADMIN) neither dodges its egress chain nor poses as a peer.
//
// Apply only touches what changed (see group in apply.go), because deleting
// rules makes the kernel's commit slow.
package nft

import (
	"net"
	"time"
)

// Table describes everything of one project.
type Table struct {
	Name     string
	Networks []Network
	// DenyGID: host sockets of this group do not count as the host's
	// (the group nucleus runs slirp4netns with as root, slirp.GID); 0 =
	// only the uid rule (see guard.go).
	DenyGID uint32
	// ResolverMark is the mark of this project's own resolver sockets
	// (ResolverMark); host sockets with any other resolver mark do not
	// count as the host's either (see guard.go).
	ResolverMark uint32
}

// Network is one project network on a host bridge.
type Network struct {
	Bridge    string
	Subnet    *net.IPNet
	Gateway   net.IP
	Internal  bool // no way out: no masquerade, forwarding out of the bridge rejected
	Sandboxes []Sandbox
}

// Sandbox is one attachment.
type Sandbox struct {
	ID       string // unique in the table; names its chain, set and counter
	IP       net.IP
	HostIf   string           // host end of its veth
	MAC      net.HardwareAddr // of the inside end; nil: not checked
	Forwards []Forward
	Egress   *Egress // nil: unrestricted
}

// Forward publishes HostPort..HostPortEnd to Target..TargetEnd.
type Forward struct {
	Proto                 string // tcp | udp
	HostIP                net.IP // nil or 0.0.0.0: every address of the host
	HostPort, HostPortEnd int
	Target, TargetEnd     int
}

// Egress is a sandbox's allow list (peers and the DNS server are implicit).
type Egress struct {
	Allow []Allow
	// Domains says the sandbox has domain rules: the set dom_ID is consulted.
	Domains bool
}

// Allow is one allowed destination.
type Allow struct {
	Net                *net.IPNet
	Proto              string // tcp | udp | "" (both)
	PortStart, PortEnd int    // 0 = any port
}

// Names of the per-sandbox objects.
func EgressChain(id string) string { return "eg_" + id }
func DomainSet(id string) string   { return "dom_" + id }
func DenyCounter(id string) string { return "deny_" + id }

// DomainElement is an address added to a sandbox's domain set.
type DomainElement struct {
	IP      net.IP
	Expires time.Duration
}
