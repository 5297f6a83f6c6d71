package network

import (
	"slices"

	"nucleus/spec"
)

// Config is what a project network is asked to be. The caller converts
// the file's network into it (reconcile/host.NetworkConfig), so a change of
// the file format stops at that seam.
type Config struct {
	Name     string
	Subnet   string   // IPv4 CIDR; "" allocates a /24 (spec.AutoSubnetBits)
	NAT      string   // spec.NATKernel, spec.NATUserspace, or spec.NATAuto / "" (kernel as root)
	Internal bool     // no route out of the subnet
	DNS      []string // upstreams of the embedded DNS; empty = the host's resolvers
}

// NetworkInfo describes a project network after EnsureNetwork.
type NetworkInfo struct {
	Name    string
	Bridge  string // kernel backend: the host bridge; empty for userspace
	Subnet  string // IPv4 CIDR
	Gateway string // first address of Subnet; the embedded DNS listens there
	NAT     string // spec.NATKernel or spec.NATUserspace (never auto)
}

// An attachment is described by a request (Attachment, also what Reserve
// and Update act on), a result (AttachInfo) and a record (AttachmentState,
// in the network's record).

// Attachment asks for one sandbox (by the PID of a process in its network
// namespace) to be connected to one project network.
type Attachment struct {
	Project, Network, Service string
	Replica                   int // 1-based; 0 means 1
	Pid                       int
	Aliases                   []string
	IPv4                      string       // static address (ipv4_address); empty = allocate
	Ports                     []spec.Port  // see PublishesOn
	Egress                    *spec.Egress // nil = unrestricted
	DNS                       []string
}

// AttachInfo is the result of Attach.
type AttachInfo struct {
	IP        string // the sandbox's address
	Gateway   string
	Interface string // inside the sandbox (eth0, eth1, ... or tap0)
}

// PublishesOn says whether a sandbox on networks publishes its ports on
// network: a host port can be forwarded once, so only on the first
// network by name.
func PublishesOn(network string, networks []string) bool {
	return len(networks) > 0 && slices.Min(networks) == network
}
