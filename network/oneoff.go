package network

import (
	"context"
	"fmt"
	"slices"
)

// Helpers for a short-lived sandbox (`nucleus run --network`) that joins a
// project network beside, or without, the project's supervisor: it must
// leave the network as it found it.

// NetworkExists reports whether the network of project is recorded.
func (m *Manager) NetworkExists(project, network string) (bool, error) {
	defer m.lock()()
	n, err := m.loadNetwork(project, network)
	return n != nil, err
}

// Forget drops the remembered address of a detached service replica, so a
// one-off sandbox does not keep an address of the subnet reserved after it
// is gone. A replica that is still attached keeps its address.
func (m *Manager) Forget(project, network, service string, replica int) error {
	defer m.lock()()
	n, err := m.loadNetwork(project, network)
	if err != nil || n == nil {
		return err
	}
	return m.forgetLocked(n, service, replica)
}

// Release forgets the addresses a replica keeps on the networks of the
// project other than keep (removed for good: none kept; restarted on other
// networks: the new ones kept), so they can be given to others; Detach
// keeps them for a replica that starts again.
func (m *Manager) Release(project, service string, replica int, keep ...string) error {
	defer m.lock()()
	return m.eachNetworkLocked(project, func(n *NetworkState) error {
		if slices.Contains(keep, n.Name) {
			return nil
		}
		return m.forgetLocked(n, service, replica)
	})
}

func (m *Manager) forgetLocked(n *NetworkState, service string, replica int) error {
	key := attachKey(service, replica)
	if n.Attachments[key] != nil {
		return nil
	}
	_, ok := n.Allocs[key]
	if !forgetEphemeral(n, key) && !ok {
		return nil
	}
	delete(n.Allocs, key)
	if err := m.saveNetwork(n); err != nil {
		return fmt.Errorf("forget the address of %s on network %s: %w", key, n.Name, err)
	}
	return nil
}

// RemoveNetworkIfUnused removes the network when no sandbox is attached to
// it (checked under the host-wide lock, so a supervisor that attached a
// service meanwhile keeps its network). It reports whether it removed it.
func (m *Manager) RemoveNetworkIfUnused(ctx context.Context, project, network string) (bool, error) {
	defer m.lock()()
	n, err := m.loadNetwork(project, network)
	if err != nil || n == nil || len(n.Attachments) > 0 {
		return false, err
	}
	if err := m.removeNetworkLocked(ctx, project, network); err != nil {
		return false, err
	}
	return true, nil
}
