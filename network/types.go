package network

import (
	"slices"
)

// Config is what a project network is asked to be. The caller converts
// the file's network into it (reconcile/host.NetworkConfig), so a change of
// the file format stops at that seam.
type Config struct {
	Name   string
	Subnet string // IPv4 CIDR; "" allocates a /24 (spec.AutoSubnetBits)
	NAT    string // spec.NATKernel, spec.NATUserspace, or spec.NATAuto / "" (kernel as root)
	// UserspaceBackend is spec.UserspacePasta, spec.UserspaceSlirp or
	// spec.UserspaceAuto / "": the way out of a userspace network's sandboxes.
	UserspaceBackend string
	Internal         bool     // no route out of the subnet
	DNS              []string // upstreams of the embedded DNS; empty = the host's resolvers
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
	PID                       int
	Aliases                   []string
	IPv4                      string  // static address (ipv4_address); empty = allocate
	Ports                     []Port  // see PublishesOn
	Egress                    *Egress // nil = unrestricted
	DNS                       []string
}

// AttachInfo is the result of Attach.
type AttachInfo struct {
	IP        string // the sandbox's address
	Gateway   string
	Interface string // inside the sandbox (eth0, eth1, ... or tap0)
	// Ports are the ports published on this network, ephemeral ones with
	// the host port picked for them.
	Ports []Port
}

// PublishesOn says whether a sandbox on networks publishes its ports on
// network: a host port can be forwarded once, so only on the first
// network by name.
func PublishesOn(network string, networks []string) bool {
	return len(networks) > 0 && slices.Min(networks) == network
}

// Port is a published port (range): host HostIP:Published..PublishedEnd
// to Target..TargetEnd inside, with spec.Port's fields, so the caller
// converts with network.Port(p). The JSON names are those of the records.
type Port struct {
	Target       int    `json:"target"`
	TargetEnd    int    `json:"target_end,omitempty"`
	Published    int    `json:"published,omitempty"` // 0: not published on a fixed port
	PublishedEnd int    `json:"published_end,omitempty"`
	HostIP       string `json:"host_ip"`  // "0.0.0.0" when not given
	Protocol     string `json:"protocol"` // tcp | udp
}

// Egress restricts what a sandbox may reach: its network's peers, the
// embedded DNS and Allow only.
type Egress struct {
	Allow []EgressRule `json:"allow"`
}

// EgressRule is one allowed destination: CIDR or Domain ("*." wildcard
// allowed), PortStart..PortEnd (both 0: any), Protocol tcp, udp or "" (both).
type EgressRule struct {
	CIDR      string `json:"cidr,omitempty"`
	Domain    string `json:"domain,omitempty"`
	PortStart int    `json:"port_start,omitempty"`
	PortEnd   int    `json:"port_end,omitempty"`
	Protocol  string `json:"protocol,omitempty"`
}
