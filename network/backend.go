package network

import (
	"context"
	"net"
	"time"

	"nucleus/internal/rootdir"
)

// backend wires one project network to the host. The Manager owns state
// (address allocation, records, the DNS server) and calls a backend for the
// host objects: the kernel backend (bridge, veth, nftables; kernel.go) or
// the userspace backend (slirp4netns; userspace*.go).
//
// The Manager keeps n.Attachments current for the backend: a is already in
// n.Attachments when attach or update is called, and already removed when
// detach is called, so a backend that rebuilds project-wide state (the
// kernel's nftables table) can read n as the truth.
//
// Every method must be idempotent: the Manager may call it again after a
// crash or from a new process that adopted the recorded state. Methods are
// called with the Manager's lock held, except allowResolved and
// egressDenied, which may run concurrently with anything.
type backend interface {
	// kind is spec.NATKernel or spec.NATUserspace.
	kind() string

	// ensureNetwork creates or adopts the network's host objects. It may fill
	// in n.Bridge, n.DNSAddr and n.Extra; the Manager records n afterwards.
	// n.Subnet and n.Gateway are already decided when it is called.
	ensureNetwork(ctx context.Context, n *NetworkState) error

	// removeNetwork removes every host object of the network (all its
	// attachments included), tolerating objects that are already gone.
	removeNetwork(ctx context.Context, n *NetworkState) error

	// attach connects the sandbox a.PID to the network. a.IP holds the
	// address the Manager allocated; the backend may replace it (the
	// Manager records what it ends with) and fills in a.Interface, a.HostIf
	// and a.Extra. On error it must leave nothing behind.
	attach(ctx context.Context, n *NetworkState, a *AttachmentState) error

	// update applies a.Ports, a.Egress and a.DNS of a running attachment
	// in place, without touching the sandbox's namespace.
	update(ctx context.Context, n *NetworkState, a *AttachmentState) error

	// detach removes the sandbox's link and rules; missing objects are fine.
	detach(ctx context.Context, n *NetworkState, a *AttachmentState) error

	// pinnedAddr is the address every sandbox attached to n gets whatever
	// the Manager allocates (per-sandbox slirp4netns); "" when the
	// Manager's allocation is used.
	pinnedAddr(n *NetworkState) string

	// dnsEndpoint says where the Manager's embedded DNS server for n listens:
	// nsPath "" means the host's namespace, addr is "IP:53".
	dnsEndpoint(n *NetworkState) (nsPath, addr string)

	// allowResolved lets the sandbox a (egress with domain rules) reach ips
	// for about ttl. Called by the DNS server before it answers.
	allowResolved(n *NetworkState, a *AttachmentState, ips []net.IP, ttl time.Duration) error

	// egressDenied returns how many packets of a were refused by its egress rules.
	egressDenied(n *NetworkState, a *AttachmentState) (uint64, error)
}

// newUserspaceBackend is set by userspace*.go (in an init function) so the
// Manager can dispatch `nat: userspace` networks without this file
// depending on code that lands in parallel. Nil means "not available".
var newUserspaceBackend func(root rootdir.Root) (backend, error)

// leakCheckers are extra leak checks registered by backends (in init
// functions); LeakCheck runs them all and concatenates their findings.
var leakCheckers []func(root rootdir.Root) ([]string, error)
