package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"

	"nucleus/internal/keeper"
	"nucleus/internal/rootdir"
	"nucleus/spec"
)

// backendFor returns the backend of a recorded or requested NAT mode.
func (m *Manager) backendFor(kind string) (backend, error) {
	switch kind {
	case spec.NATKernel:
		return m.kernel, nil
	case spec.NATUserspace:
		if m.userspace == nil {
			if newUserspaceBackend == nil {
				return nil, fmt.Errorf("userspace NAT (slirp4netns) is not available in this build")
			}
			b, err := newUserspaceBackend(m.root)
			if err != nil {
				return nil, err
			}
			m.userspace = b
		}
		return m.userspace, nil
	}
	return nil, fmt.Errorf("unknown NAT mode %q", kind)
}

// natMode resolves auto: kernel NAT as root, userspace otherwise.
func natMode(nat string) string {
	if nat == "" || nat == spec.NATAuto {
		if os.Geteuid() == 0 {
			return spec.NATKernel
		}
		return spec.NATUserspace
	}
	return nat
}

func (n *NetworkState) info() *NetworkInfo {
	return &NetworkInfo{Name: n.Name, Bridge: n.Bridge, Subnet: n.Subnet, Gateway: n.Gateway, NAT: n.Backend}
}

// EnsureNetwork creates the network (or adopts the recorded one) and starts
// its DNS server. Calling it again with the same config changes nothing;
// internal and dns: changes are applied; a changed subnet or NAT mode is
// refused (the network has to be removed and created again).
func (m *Manager) EnsureNetwork(ctx context.Context, project string, sn *Config) (*NetworkInfo, error) {
	defer m.lock()()
	if sn == nil || sn.Name == "" {
		return nil, fmt.Errorf("ensure network of project %s: no network name", project)
	}
	mode := natMode(sn.NAT)
	n, err := m.loadNetwork(project, sn.Name)
	if err != nil {
		return nil, err
	}
	isNew := n == nil
	if !isNew {
		if n.Backend != mode {
			return nil, fmt.Errorf("network %s of project %s uses nat %s, the spec asks for %s: remove the network first", sn.Name, project, n.Backend, mode)
		}
		if sn.Subnet != "" && canonCIDR(sn.Subnet) != n.Subnet {
			return nil, fmt.Errorf("network %s of project %s has subnet %s, the spec asks for %s: remove the network first", sn.Name, project, n.Subnet, sn.Subnet)
		}
		n.Internal, n.Upstreams, n.UserspaceBackend = sn.Internal, slices.Clone(sn.DNS), sn.UserspaceBackend
	} else {
		n = &NetworkState{Project: project, Name: sn.Name, Backend: mode, Internal: sn.Internal, UserspaceBackend: sn.UserspaceBackend,
			Upstreams: slices.Clone(sn.DNS), Allocs: map[string]string{}, Attachments: map[string]*AttachmentState{}}
	}
	b, err := m.backendFor(mode)
	if err != nil {
		return nil, fmt.Errorf("network %s of project %s: %w", sn.Name, project, err)
	}

	if isNew && mode == spec.NATKernel {
		// A bridge of this root's name without a record was made by a
		// supervisor killed before it recorded it (older versions made the
		// bridge first): nothing recorded uses it, and its address would
		// make the subnet look taken.
		if err := deleteLink(bridgeName(m.root, project, sn.Name)); err != nil {
			return nil, fmt.Errorf("network %s of project %s: remove unrecorded bridge: %w", sn.Name, project, err)
		}
	}
	if n.Subnet == "" {
		var c *net.IPNet
		if sn.Subnet != "" {
			ip, cc, err := net.ParseCIDR(sn.Subnet)
			if err != nil || ip.To4() == nil {
				return nil, fmt.Errorf("network %s of project %s: subnet %q is not an IPv4 CIDR", sn.Name, project, sn.Subnet)
			}
			if mode == spec.NATKernel {
				if err := m.checkSubnetFree(cc, project, sn.Name); err != nil {
					return nil, err
				}
			}
			c = cc
		} else if c, err = m.allocSubnet(); err != nil {
			return nil, fmt.Errorf("network %s of project %s: %w", sn.Name, project, err)
		}
		n.Subnet, n.Gateway = c.String(), firstHost(c).String()
	}
	if isNew {
		// Intent first: the record exists before anything on the host, so
		// a supervisor killed while creating leaves a network that the
		// next EnsureNetwork adopts and RemoveNetwork finds.
		if err := m.saveNetwork(n); err != nil {
			return nil, err
		}
	}
	if err := b.ensureNetwork(ctx, n); err != nil {
		if isNew {
			b.removeNetwork(ctx, n) // leave nothing half-made behind
			m.deleteNetworkRecord(project, sn.Name)
		}
		return nil, fmt.Errorf("network %s of project %s: %w", sn.Name, project, err)
	}
	if err := m.saveNetwork(n); err != nil {
		if isNew {
			// Unrecorded, the bridge and table would hold the subnet until
			// a down (a full disk): undo them, and the intent record.
			b.removeNetwork(ctx, n)
			m.deleteNetworkRecord(project, sn.Name)
		}
		return nil, fmt.Errorf("network %s of project %s: %w", sn.Name, project, err)
	}
	if err := m.ensureDNS(n, b); err != nil {
		return nil, err
	}
	return n.info(), nil
}

// canonCIDR turns "10.1.0.5/24" into "10.1.0.0/24" (unparsable: unchanged).
func canonCIDR(s string) string {
	if _, c, err := net.ParseCIDR(s); err == nil {
		return c.String()
	}
	return s
}

// lock serialises a state change: within this process (mu) and with every
// other nucleus process on the host (a one-off `nucleus run` beside the
// supervisor, or another state root allocating subnets). Records are
// always re-read after taking it.
func (m *Manager) lock() func() {
	m.mu.Lock()
	unlock := lockHost()
	return func() { unlock(); m.mu.Unlock() }
}

// existingNetwork loads a network that must exist.
func (m *Manager) existingNetwork(project, network string) (*NetworkState, error) {
	n, err := m.loadNetwork(project, network)
	if err == nil && n == nil {
		err = fmt.Errorf("network %s of project %s does not exist (EnsureNetwork first)", network, project)
	}
	return n, err
}

// requireNetwork loads a network that must exist, with its backend.
func (m *Manager) requireNetwork(project, network string) (*NetworkState, backend, error) {
	n, err := m.existingNetwork(project, network)
	if err != nil {
		return nil, nil, err
	}
	b, err := m.backendFor(n.Backend)
	if err != nil {
		return nil, nil, err
	}
	return n, b, nil
}

// projectAttachments returns every attachment of the project except skip.
func (m *Manager) projectAttachments(project string, skip *AttachmentState, cur *NetworkState) ([]*AttachmentState, error) {
	nets, err := m.loadProject(project)
	if err != nil {
		return nil, err
	}
	var out []*AttachmentState
	for _, n := range nets {
		if cur != nil && n.Name == cur.Name {
			n = cur
		}
		for _, a := range n.Attachments {
			if a.Service == skip.Service && a.Replica == skip.Replica {
				continue // the same sandbox, possibly on another network
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// Attach connects a sandbox to a network. Attaching the same pid again is an
// update; attaching a new pid for a recorded service replica (a restart)
// replaces the old link and keeps the address.
func (m *Manager) Attach(ctx context.Context, at Attachment) (*AttachInfo, error) {
	defer m.lock()()
	n, b, err := m.requireNetwork(at.Project, at.Network)
	if err != nil {
		return nil, err
	}
	key := attachKey(at.Service, at.Replica)
	if old := n.Attachments[key]; old != nil {
		if old.PID == at.PID && old.HostIf != "" && pidAlive(at.PID) {
			return m.updateLocked(ctx, n, b, old, at)
		}
		delete(n.Attachments, key)
		if err := b.detach(ctx, n, old); err != nil {
			return nil, fmt.Errorf("replace old attachment of %s: %w", key, err)
		}
	}
	a := &AttachmentState{Service: at.Service, Replica: normReplica(at.Replica), PID: at.PID}
	if at.Ports, err = m.withEphemeral(n, key, at.Ports, nil); err != nil {
		return nil, fmt.Errorf("attach %s: %w", at.Service, err)
	}
	a.setLive(at)
	if err := m.pickAddr(n, a, at.IPv4); err != nil {
		return nil, fmt.Errorf("attach %s to network %s: %w", key, at.Network, err)
	}
	others, err := m.projectAttachments(at.Project, a, n)
	if err != nil {
		return nil, err
	}
	if err := m.checkPorts(at.Project, a.Ports, others); err != nil {
		return nil, fmt.Errorf("attach %s: %w", at.Service, err)
	}
	n.Attachments[key] = a
	if err := b.attach(ctx, n, a); err != nil {
		delete(n.Attachments, key)
		return nil, fmt.Errorf("attach %s (pid %d) to network %s: %w", key, at.PID, at.Network, err)
	}
	n.Allocs[key] = a.IP
	if err := m.saveNetwork(n); err != nil {
		return nil, err
	}
	m.refreshDNS(n, b)
	return a.info(n), nil
}

// pickAddr decides a's address: the static one, else the recorded one,
// else the lowest free one.
func (m *Manager) pickAddr(n *NetworkState, a *AttachmentState, static string) error {
	_, subnet, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return err
	}
	key := attachKey(a.Service, a.Replica)
	taken := map[string]bool{}
	for k, ip := range n.Allocs {
		if k != key {
			taken[ip] = true
		}
	}
	if static != "" {
		ip := net.ParseIP(static)
		if err := checkHostAddr(subnet, ip); err != nil {
			return fmt.Errorf("ipv4_address %s: %w", static, err)
		}
		for k, o := range n.Attachments {
			if k != key && o.IP == ip.String() {
				return fmt.Errorf("ipv4_address %s is in use by %s", static, k)
			}
		}
		// A detached service's remembered address gives way to a static one.
		for k, v := range n.Allocs {
			if k != key && v == ip.String() {
				delete(n.Allocs, k)
			}
		}
		a.IP, a.Static = ip.String(), true
		return nil
	}
	if prev := n.Allocs[key]; prev != "" && !taken[prev] {
		a.IP = prev
		return nil
	}
	ip, err := allocAddr(subnet, taken)
	if err != nil {
		return err
	}
	a.IP = ip.String()
	return nil
}

// Update applies changed ports, egress rules, aliases and DNS servers of a
// running sandbox in place.
func (m *Manager) Update(ctx context.Context, at Attachment) error {
	defer m.lock()()
	n, b, err := m.requireNetwork(at.Project, at.Network)
	if err != nil {
		return err
	}
	a := n.Attachments[attachKey(at.Service, at.Replica)]
	if a == nil {
		return fmt.Errorf("update %s replica %d: not attached to network %s of project %s", at.Service, normReplica(at.Replica), at.Network, at.Project)
	}
	_, err = m.updateLocked(ctx, n, b, a, at)
	return err
}

func (m *Manager) updateLocked(ctx context.Context, n *NetworkState, b backend, a *AttachmentState, at Attachment) (*AttachInfo, error) {
	if at.IPv4 != "" && at.IPv4 != a.IP {
		return nil, fmt.Errorf("update %s: ipv4_address %s differs from the running address %s (needs a restart)", at.Service, at.IPv4, a.IP)
	}
	prev := *a
	var err error
	if at.Ports, err = m.withEphemeral(n, attachKey(a.Service, a.Replica), at.Ports, a.Ports); err != nil {
		return nil, fmt.Errorf("update %s: %w", at.Service, err)
	}
	others, err := m.projectAttachments(at.Project, a, n)
	if err != nil {
		return nil, err
	}
	if err := m.checkPorts(at.Project, newPorts(a.Ports, at.Ports), others); err != nil {
		return nil, fmt.Errorf("update %s: %w", at.Service, err)
	}
	a.setLive(at)
	if err := b.update(ctx, n, a); err != nil {
		*a = prev
		return nil, fmt.Errorf("update %s on network %s: %w", at.Service, n.Name, err)
	}
	if err := m.saveNetwork(n); err != nil {
		return nil, err
	}
	m.refreshDNS(n, b)
	return a.info(n), nil
}

// newPorts are the ports of next that were not already published (those
// are ours, so binding them is not a conflict).
func newPorts(cur, next []Port) []Port {
	var out []Port
	for _, p := range next {
		if !slices.Contains(cur, p) {
			out = append(out, p)
		}
	}
	return out
}

// Detach disconnects a sandbox; its address stays recorded for its next start.
func (m *Manager) Detach(ctx context.Context, project, network, service string, replica int) error {
	defer m.lock()()
	n, err := m.loadNetwork(project, network)
	if err != nil || n == nil {
		return err
	}
	b, err := m.backendFor(n.Backend)
	if err != nil {
		return err
	}
	key := attachKey(service, replica)
	a := n.Attachments[key]
	if a == nil {
		return nil
	}
	delete(n.Attachments, key)
	if err := b.detach(ctx, n, a); err != nil {
		return fmt.Errorf("detach %s from network %s: %w", key, network, err)
	}
	if err := m.saveNetwork(n); err != nil {
		return err
	}
	m.refreshDNS(n, b)
	return nil
}

// RemoveNetwork removes the network with everything on it: links, rules,
// DNS server and records. A network that does not exist is fine.
func (m *Manager) RemoveNetwork(ctx context.Context, project, network string) error {
	defer m.lock()()
	return m.removeNetworkLocked(ctx, project, network)
}

func (m *Manager) removeNetworkLocked(ctx context.Context, project, network string) error {
	n, err := m.loadNetwork(project, network)
	if err != nil || n == nil {
		return err
	}
	m.stopDNS(n)
	b, err := m.backendFor(n.Backend)
	if err != nil {
		return err
	}
	if err := b.removeNetwork(ctx, n); err != nil {
		return fmt.Errorf("remove network %s of project %s: %w", network, project, err)
	}
	return m.deleteNetworkRecord(project, network)
}

// RemoveProject removes every network of the project, and its nftables
// table even when no record is left (a crash between steps).
func (m *Manager) RemoveProject(ctx context.Context, project string) error {
	defer m.lock()()
	err := m.eachNetworkLocked(project, func(n *NetworkState) error { return m.removeNetworkLocked(ctx, project, n.Name) })
	if err == nil && os.Geteuid() != 0 {
		// The project's user namespace (rootless_hub.go): its sandboxes
		// and hubs are gone now.
		err = stopKeeper(m.root, project)
	}
	if err != nil || os.Geteuid() != 0 {
		return err
	}
	return errors.Join(m.kernel.sync(project, nil, ""), removeOrphanLinks(linkAlias(m.root, project)+":"), restoreForwarding())
}

// stopKeeper ends the keeper of project's user namespace, if any.
func stopKeeper(root rootdir.Root, project string) error {
	err := keeper.Stop(keeper.ProjectDir(root.Run, project))
	os.Remove(filepath.Dir(keeper.ProjectDir(root.Run, project))) // only when empty
	return err
}

// stopIdleKeeper ends the keeper of project's user namespace when the
// project has no network left (a one-off run that started it is done).
func (m *Manager) stopIdleKeeper(project string) error {
	defer m.lock()()
	nets, err := m.loadProject(project)
	if err != nil || len(nets) > 0 {
		return err
	}
	return stopKeeper(m.root, project)
}

// eachNetworkLocked runs fn for every network the project has a record of
// and joins their errors; m's lock is held.
func (m *Manager) eachNetworkLocked(project string, fn func(n *NetworkState) error) error {
	nets, err := m.loadProject(project)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range nets {
		errs = append(errs, fn(n))
	}
	return errors.Join(errs...)
}

// EgressDenied returns how many packets the egress rules of service refused
// (all its replicas, all project networks).
func (m *Manager) EgressDenied(project, service string) (uint64, error) {
	m.mu.Lock() // backendFor may create the userspace backend
	defer m.mu.Unlock()
	nets, err := m.loadProject(project)
	if err != nil {
		return 0, err
	}
	var total uint64
	found := false
	for _, n := range nets {
		b, err := m.backendFor(n.Backend)
		if err != nil {
			return 0, err
		}
		for _, a := range n.Attachments {
			if a.Service != service || a.Egress == nil {
				continue
			}
			c, err := b.egressDenied(n, a)
			if err != nil {
				return 0, err
			}
			total += c
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("service %s of project %s has no attachment with egress rules", service, project)
	}
	return total, nil
}

func pidAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
	return err == nil
}
