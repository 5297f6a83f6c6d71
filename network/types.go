package network

import "nucleus/spec"

// NetworkInfo describes a project network after EnsureNetwork.
type NetworkInfo struct {
	Name    string
	Bridge  string // kernel backend: the host bridge; empty for userspace
	Subnet  string // IPv4 CIDR
	Gateway string // first address of Subnet; the embedded DNS listens there
	NAT     string // spec.NATKernel or spec.NATUserspace (never auto)
}

// Attachment asks for one sandbox (by the PID of a process in its network
// namespace) to be connected to one project network.
type Attachment struct {
	Project, Network, Service string
	Replica                   int // 1-based; 0 means 1
	Pid                       int
	Aliases                   []string
	IPv4                      string // static address (ipv4_address); empty = allocate
	Ports                     []spec.Port
	Egress                    *spec.Egress // nil = unrestricted
	DNS                       []string
}

// AttachInfo is the result of Attach.
type AttachInfo struct {
	IP        string // the sandbox's address
	Gateway   string
	Interface string // inside the sandbox (eth0, eth1, ... or tap0)
}
