package network

import (
	"context"
	"fmt"
	"net"
	"time"

	"nucleus/network/nft"
	"nucleus/network/slirp"
	"nucleus/spec"
)

// kernelBackend: a host bridge per network, a veth per sandbox and one
// nftables table per project for NAT, port forwards and egress.
type kernelBackend struct{ m *Manager }

func (k *kernelBackend) kind() string { return spec.NATKernel }

func (k *kernelBackend) ensureNetwork(ctx context.Context, n *NetworkState) error {
	_, subnet, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return fmt.Errorf("network %s: subnet %q: %w", n.Name, n.Subnet, err)
	}
	n.Bridge = bridgeName(k.m.root, n.Project, n.Name)
	n.DNSAddr = n.Gateway
	if err := ensureBridge(n.Bridge, linkAlias(k.m.root, n.Project, n.Name), net.ParseIP(n.Gateway), subnet); err != nil {
		return err
	}
	if err := enableForwarding(); err != nil {
		return err
	}
	return k.sync(n.Project, n, "")
}

func (k *kernelBackend) removeNetwork(ctx context.Context, n *NetworkState) error {
	var errs []error
	for _, a := range n.Attachments {
		if a.HostIf != "" {
			if err := deleteLink(a.HostIf); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := deleteLink(bridgeName(k.m.root, n.Project, n.Name)); err != nil {
		errs = append(errs, err)
	}
	if err := k.sync(n.Project, nil, n.Name); err != nil {
		errs = append(errs, err)
	}
	if err := restoreForwarding(); err != nil {
		errs = append(errs, err)
	}
	return joinErrs(errs)
}

func (k *kernelBackend) attach(ctx context.Context, n *NetworkState, a *AttachmentState) error {
	_, subnet, _ := net.ParseCIDR(n.Subnet)
	ones, _ := subnet.Mask.Size()
	host, _ := vethNames(k.m.root, n.Project, n.Name, a.Service, a.Replica)
	deleteLink(host) // a stale link of an earlier, dead sandbox of this replica
	inside, mac, err := createVeth(vethSpec{
		hostName: host, alias: linkAlias(k.m.root, n.Project, n.Name, a.Service, fmt.Sprint(normReplica(a.Replica))),
		bridge: n.Bridge, pid: a.PID, ip: net.ParseIP(a.IP), prefix: ones, gateway: net.ParseIP(n.Gateway),
		defaultRoute: !n.Internal,
	})
	if err != nil {
		return err
	}
	a.HostIf, a.Interface, a.MAC = host, inside, mac
	if err := k.sync(n.Project, n, ""); err != nil {
		deleteLink(host)
		return err
	}
	return nil
}

func (k *kernelBackend) update(ctx context.Context, n *NetworkState, a *AttachmentState) error {
	return k.sync(n.Project, n, "")
}

func (k *kernelBackend) detach(ctx context.Context, n *NetworkState, a *AttachmentState) error {
	err := k.sync(n.Project, n, "")
	if a.HostIf != "" {
		if derr := deleteLink(a.HostIf); err == nil {
			err = derr
		}
	}
	return err
}

func (k *kernelBackend) dnsEndpoint(n *NetworkState) (string, string) {
	return "", net.JoinHostPort(n.Gateway, "53")
}

func (k *kernelBackend) allowResolved(n *NetworkState, a *AttachmentState, ips []net.IP, ttl time.Duration) error {
	return nft.AddAllowed(tableName(k.m.root, n.Project), a.HostIf, ips, ttl)
}

func (k *kernelBackend) pinnedAddr(*NetworkState) string { return "" }

func (k *kernelBackend) egressDenied(n *NetworkState, a *AttachmentState) (uint64, error) {
	return nft.Denied(tableName(k.m.root, n.Project), a.HostIf)
}

// sync rebuilds the project's nftables table from the records of all its
// kernel networks, with cur replacing its recorded version and the network
// named drop left out. No kernel network left: the table is deleted.
func (k *kernelBackend) sync(project string, cur *NetworkState, drop string) error {
	nets, err := k.m.loadProject(project)
	if err != nil {
		return err
	}
	byName := map[string]*NetworkState{}
	for _, n := range nets {
		byName[n.Name] = n
	}
	if cur != nil {
		byName[cur.Name] = cur
	}
	delete(byName, drop)
	mark, err := k.m.resolverMark(project)
	if err != nil {
		return err
	}
	t := &nft.Table{Name: tableName(k.m.root, project), DenyGID: slirp.GID, ResolverMark: mark}
	for _, name := range sortedKeys(byName) {
		n := byName[name]
		if n.Backend != spec.NATKernel || n.Bridge == "" {
			continue
		}
		tn, err := tableNetwork(n)
		if err != nil {
			return err
		}
		t.Networks = append(t.Networks, tn)
	}
	if len(t.Networks) == 0 {
		return nft.Delete(t.Name)
	}
	return nft.Apply(t)
}

// tableNetwork translates a network record into the nft description.
func tableNetwork(n *NetworkState) (nft.Network, error) {
	_, subnet, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return nft.Network{}, fmt.Errorf("network %s: subnet %q: %w", n.Name, n.Subnet, err)
	}
	tn := nft.Network{Bridge: n.Bridge, Subnet: subnet, Gateway: net.ParseIP(n.Gateway), Internal: n.Internal}
	for _, key := range sortedKeys(n.Attachments) {
		a := n.Attachments[key]
		if a.HostIf == "" {
			continue // not wired yet
		}
		s := nft.Sandbox{ID: a.HostIf, IP: net.ParseIP(a.IP), HostIf: a.HostIf}
		if mac, err := net.ParseMAC(a.MAC); err == nil {
			s.MAC = mac // records from before MACs were kept have none
		}
		for _, p := range a.Ports {
			start, end := portRange(p)
			if start == 0 {
				continue
			}
			f := nft.Forward{Proto: protoOf(p), HostPort: start, HostPortEnd: end, Target: p.Target, TargetEnd: p.TargetEnd}
			if h := hostIPOf(p); h != "0.0.0.0" {
				f.HostIP = net.ParseIP(h)
			}
			s.Forwards = append(s.Forwards, f)
		}
		if a.Egress != nil {
			eg, err := egressOf(a.Egress)
			if err != nil {
				return nft.Network{}, fmt.Errorf("service %s: %w", a.Service, err)
			}
			s.Egress = eg
		}
		tn.Sandboxes = append(tn.Sandboxes, s)
	}
	return tn, nil
}

func egressOf(e *Egress) (*nft.Egress, error) {
	out := &nft.Egress{}
	for _, r := range e.Allow {
		if r.Domain != "" {
			out.Domains = true
			continue
		}
		c := r.CIDR
		if _, _, err := net.ParseCIDR(c); err != nil {
			c += "/32"
		}
		_, n, err := net.ParseCIDR(c)
		if err != nil || n.IP.To4() == nil {
			return nil, fmt.Errorf("egress allow %q: not an IPv4 address or CIDR", r.CIDR)
		}
		end := r.PortEnd
		if end < r.PortStart {
			end = r.PortStart
		}
		out.Allow = append(out.Allow, nft.Allow{Net: n, Proto: r.Protocol, PortStart: r.PortStart, PortEnd: end})
	}
	return out, nil
}
