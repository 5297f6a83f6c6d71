// Package network gives project networks to sandboxes.
//
// The Manager is the only entry point. It records every network and
// attachment under the state root (Run/network/PROJECT/NETWORK.json, written
// atomically) so that a restarted supervisor, or `nucleus down` without one,
// can adopt or remove everything; it allocates subnets and addresses, runs
// one embedded DNS server (network/dns) per network inside its own process,
// and dispatches host work to a backend (backend.go): the kernel backend
// below, or the userspace backend (userspace*.go, slirp4netns).
//
// # Kernel NAT (kernel.go, link.go, network/nft)
//
//   - One bridge per project network, named "ncb" + 10 hex digits of
//     sha256(root ID, project, network), with the alias
//     "nucleus:ROOTID:PROJECT:NETWORK" so the leak check knows its owner.
//     The gateway is the first address of the subnet. Subnets left out of
//     the file are /24s from 10.89.0.0/16 (then 10.90, 10.91, 172.29) that
//     overlap no recorded network, no host address and no host route.
//   - One veth per sandbox: the host end "ncv" + hash on the bridge (hairpin
//     mode on), the inside end created directly in /proc/PID/ns/net as eth0
//     (eth1, ... for further networks) and configured through a netlink
//     handle bound to that namespace, so no thread of ours changes namespace.
//     Addresses stay the same for a service replica across restarts; a
//     static ipv4_address wins.
//   - One nftables table per project, "ip nucleus_ROOTID_PROJECT" (plus a
//     bridge-family table of the same name for anti-spoofing), see package
//     nft for its layout. Changes are applied in one atomic batch that only
//     touches what changed. net.ipv4.ip_forward is switched on when off
//     (noted host-wide in /run/nucleus-ip_forward.enabled-by-nucleus) and
//     back off when the last nucleus bridge of the host is removed
//     (forwarding.go); route_localnet is on for each bridge, so published
//     ports answer on 127.0.0.1. Every network change takes the host-wide
//     flock on /run/lock/nucleus-network.lock (the empty file stays).
//
// # Addresses and sandbox files (files.go)
//
// A sandbox's /etc/hosts names its own address, so the caller reserves it
// (Manager.Reserve, on each network, before the sandbox is created) and
// Attach later uses what was reserved; a reservation that fails (no free
// address left, no such network) is an error that fails the start.
// Detach keeps the address for the replica's next start; Release gives
// it back (the replica removed for good, or restarted off the network).
// HostsFile and ResolvConf are pure functions of what they are given
// (own address, hostname, extra hosts; nameservers from
// Manager.Nameservers); SandboxFiles adds only the copy of the host's
// resolv.conf for a sandbox with no resolver at all.
//
// # Isolation (kernel backend; the userspace hub applies the same table)
//
// Enforced on the host, so it holds with CAP_NET_ADMIN/NET_RAW inside:
//
//   - No IPv6: disable_ipv6=1 on the bridge, the host veth and inside the
//     sandbox (all, default, ethN; lo keeps ::1; link.go), and the bridge
//     table drops IPv6 frames from every sandbox veth.
//   - Anti-spoofing for every sandbox (nft/spoof.go): only IPv4 and ARP,
//     only its own MAC (AttachmentState.MAC) and IPv4 address as source,
//     ARP only as itself.
//   - 127.0.0.0/8 not arriving on lo is dropped before NAT (nft/guard.go):
//     ports published on 127.0.0.1 answer the host only, and sandboxes do
//     not reach the host's loopback services despite route_localnet.
//   - New connections forwarded into a bridge from elsewhere must be DNATed
//     (published ports) or come from a bridge of the same project.
//   - Port forwards are refused at Attach/Update when the host port is bound
//     by a process (the error names the holder from /proc), forwarded by
//     another nucleus table (any root), or published by another sandbox of
//     the project.
//
// # Egress (kernel backend)
//
// A sandbox with egress rules gets a chain eg_ID that every packet it sends
// (forwarded, or addressed to the host) goes through, keyed by its address
// on its bridge; the bridge table drops frames from its veth with any other
// source address (as for every sandbox), so even CAP_NET_ADMIN inside the
// sandbox cannot step around it. Allowed: the embedded DNS (gateway:53), peers on the subnet,
// its CIDR/port entries, and the set dom_ID. Everything else is rejected at
// once (TCP reset, else ICMP admin-prohibited) and counted in the counter
// deny_ID (Manager.EgressDenied).
//
// Domain entries are enforced through the DNS server: when the sandbox
// resolves an allowed name, the answered IPv4 addresses are put into dom_ID
// before the answer is sent, for max(TTL, DomainTTLFloor) + DomainGrace
// (defaults 30 s and 5 min: short TTLs are common, and the grace keeps
// connections opened from an answer alive while the client re-resolves).
// An address learnt this way is reachable on any port.
//
// # Limits
//
// IPv4 only (IPv6 is switched off and filtered). Ports without a fixed host port (published 0) are not
// published. The rules live at nftables priority 0 with policy accept: a
// host firewall that drops forwarded traffic in its own chains wins over
// them. The DNS server lives in the process that ensured the network; a
// one-off process that finds it running elsewhere leaves it there.
package network
