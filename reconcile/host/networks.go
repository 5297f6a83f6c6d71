package host

import (
	"context"
	"maps"
	"slices"

	"nucleus/network"
	"nucleus/reconcile"
	"nucleus/spec"
)

// Networks implements reconcile.Networks with a network.Manager.
type Networks struct {
	M *network.Manager
}

var _ reconcile.Networks = Networks{}

// NetworkConfig is the network package's config of a network of the file:
// the one place the file's network becomes a network.Config (the
// supervisor and `nucleus run --network` both use it).
func NetworkConfig(sn *spec.Network) *network.Config {
	if sn == nil {
		return nil
	}
	return &network.Config{Name: sn.Name, Subnet: sn.Subnet, NAT: sn.NAT, UserspaceBackend: sn.UserspaceBackend, Internal: sn.Internal, DNS: slices.Clone(sn.DNS)}
}

// Ports converts published ports into the network package's type.
func Ports(ps []spec.Port) []network.Port {
	var out []network.Port
	for _, p := range ps {
		out = append(out, network.Port(p))
	}
	return out
}

// egress converts egress rules; nil (unrestricted) stays nil.
func egress(e *spec.Egress) *network.Egress {
	if e == nil {
		return nil
	}
	out := &network.Egress{}
	if e.Allow != nil { // empty (deny all) and absent read alike, but keep the shape
		out.Allow = make([]network.EgressRule, 0, len(e.Allow))
	}
	for _, r := range e.Allow {
		out.Allow = append(out.Allow, network.EgressRule(r))
	}
	return out
}

// EnsureNetwork creates or updates the network and returns its subnet.
func (n Networks) EnsureNetwork(ctx context.Context, project string, sn *spec.Network) (string, error) {
	info, err := n.M.EnsureNetwork(ctx, project, NetworkConfig(sn))
	if err != nil {
		return "", err
	}
	return info.Subnet, nil
}

// attachment builds the network package's request from the service.
func attachment(a reconcile.AttachRequest) network.Attachment {
	s := a.Service
	at := network.Attachment{Project: a.Project, Network: a.Network, Service: s.Name, Replica: a.Replica, PID: a.PID,
		Egress: egress(s.Egress), DNS: s.DNS}
	if sn := s.Networks[a.Network]; sn != nil {
		at.Aliases, at.IPv4 = sn.Aliases, sn.IPv4Address
	}
	if network.PublishesOn(a.Network, slices.Collect(maps.Keys(s.Networks))) {
		at.Ports = Ports(s.Ports)
	}
	return at
}

// Attach connects a sandbox to a network.
func (n Networks) Attach(ctx context.Context, a reconcile.AttachRequest) (reconcile.Attachment, error) {
	info, err := n.M.Attach(ctx, attachment(a))
	if err != nil {
		return reconcile.Attachment{}, err
	}
	var ports []spec.Port
	for _, p := range info.Ports {
		ports = append(ports, spec.Port(p))
	}
	return reconcile.Attachment{Network: a.Network, IP: info.IP, Gateway: info.Gateway, Interface: info.Interface, Ports: ports}, nil
}

// Update applies ports, egress, aliases and DNS in place.
func (n Networks) Update(ctx context.Context, a reconcile.AttachRequest) error {
	return n.M.Update(ctx, attachment(a))
}

// Detach disconnects a sandbox replica.
func (n Networks) Detach(ctx context.Context, project, net, service string, replica int) error {
	return n.M.Detach(ctx, project, net, service, replica)
}

// Release forgets the addresses of a replica removed for good.
func (n Networks) Release(ctx context.Context, project, service string, replica int, keep []string) error {
	return n.M.Release(project, service, replica, keep...)
}

// RemoveNetwork removes one network.
func (n Networks) RemoveNetwork(ctx context.Context, project, net string) error {
	return n.M.RemoveNetwork(ctx, project, net)
}

// RemoveProject removes every network object of the project.
func (n Networks) RemoveProject(ctx context.Context, project string) error {
	return n.M.RemoveProject(ctx, project)
}

// Reserve reserves the replica's address on one network.
func (n Networks) Reserve(ctx context.Context, a reconcile.AttachRequest) (string, error) {
	at := attachment(a)
	return n.M.Reserve(at.Project, at.Network, at.Service, at.Replica, at.IPv4)
}

// Files are the generated resolv.conf and hosts of a replica whose own
// address (on its first network) is own.
func (n Networks) Files(project string, s *spec.Service, own string) (map[string][]byte, error) {
	nets := slices.Sorted(maps.Keys(s.Networks))
	ns, err := n.M.Nameservers(project, nets)
	if err != nil {
		return nil, err
	}
	extra, err := network.WithHostGateway(s.ExtraHosts, func() (string, error) { return n.M.HostGateway(project, nets) })
	if err != nil {
		return nil, err
	}
	return network.SandboxFiles(network.Hosts{Hostname: s.Hostname, Address: own, Extra: extra}, ns, s.DNS)
}
