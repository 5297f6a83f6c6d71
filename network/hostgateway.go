package network

import (
	"fmt"
	"slices"

	"nucleus/spec"
)

// HostGateway is the address a sandbox on networks (the first one, as for
// its own address) reaches the host at, for extra_hosts' host-gateway:
// the bridge's gateway address of a kernel-NAT network, which the host
// holds. It is never a public address of the host. A userspace network
// has none (slirp4netns runs with --disable-host-loopback, so its
// gateway does not lead to the host's services), nor has an internal
// network (only its DNS reaches the host) or a sandbox without a network.
func (m *Manager) HostGateway(project string, networks []string) (string, error) {
	if len(networks) == 0 {
		return "", fmt.Errorf("extra_hosts: host-gateway needs a network; the service has none (networks: [])")
	}
	defer m.lock()()
	n, err := m.existingNetwork(project, networks[0])
	if err != nil {
		return "", err
	}
	switch {
	case n.Backend != spec.NATKernel:
		return "", fmt.Errorf("extra_hosts: host-gateway: network %s uses userspace NAT (slirp4netns with --disable-host-loopback), where no address leads to the host's own services; use nat: kernel, or name a host address explicitly", n.Name)
	case n.Internal:
		return "", fmt.Errorf("extra_hosts: host-gateway: network %s is internal, so nothing but its DNS reaches the host", n.Name)
	}
	return n.Gateway, nil
}

// WithHostGateway returns extra with host-gateway replaced by the address
// gw gives (asked only when an entry needs it).
func WithHostGateway(extra []spec.ExtraHost, gw func() (string, error)) ([]spec.ExtraHost, error) {
	if !slices.ContainsFunc(extra, func(e spec.ExtraHost) bool { return e.IP == spec.HostGateway }) {
		return extra, nil
	}
	addr, err := gw()
	if err != nil {
		return nil, err
	}
	out := slices.Clone(extra)
	for i := range out {
		if out[i].IP == spec.HostGateway {
			out[i].IP = addr
		}
	}
	return out, nil
}
