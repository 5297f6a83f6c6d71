package slirp

import (
	"fmt"
	"net"
)

func (n *Network) key(f Forward) string { return f.key(n.addrs.Guest.String()) }

// added is a forward slirp4netns accepted, with the id it gave it.
type added struct {
	f  Forward
	id int
}

func checkForward(f Forward) error {
	if f.Proto != "tcp" && f.Proto != "udp" {
		return fmt.Errorf("slirp4netns forward %s: protocol must be tcp or udp", f)
	}
	if f.HostPort < 1 || f.HostPort > 65535 || f.GuestPort < 1 || f.GuestPort > 65535 {
		return fmt.Errorf("slirp4netns forward %s: ports must be 1-65535", f)
	}
	if f.HostAddr != "" && net.ParseIP(f.HostAddr).To4() == nil {
		return fmt.Errorf("slirp4netns forward %s: host address must be IPv4", f)
	}
	return nil
}

// addForward asks slirp4netns for one forward. Callers hold n.mu.
func (n *Network) addForward(f Forward) error {
	if err := checkForward(f); err != nil {
		return err
	}
	if _, ok := n.forwards[n.key(f)]; ok {
		return nil // already there: forwards are idempotent
	}
	id, err := addHostfwd(n.APISocket(), f)
	if err != nil {
		return fmt.Errorf("slirp4netns add_hostfwd failed for %s: %w", f, err)
	}
	n.forwards[n.key(f)] = added{f, id}
	return nil
}

// AddForward adds a forward to an Active network. Unlike during Start, a
// refusal here leaves the network running (the caller decides).
func (n *Network) AddForward(f Forward) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != Active {
		return fmt.Errorf("slirp4netns %s: add forward %s: network is %s, not active", n.cfg.ID, f, n.state)
	}
	return n.addForward(f)
}

// RemoveForward removes a forward added earlier; an unknown one is fine.
func (n *Network) RemoveForward(f Forward) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != Active {
		return fmt.Errorf("slirp4netns %s: remove forward %s: network is %s, not active", n.cfg.ID, f, n.state)
	}
	a, ok := n.forwards[n.key(f)]
	if !ok {
		return nil
	}
	if err := removeHostfwd(n.APISocket(), a.id); err != nil {
		return fmt.Errorf("slirp4netns remove_hostfwd failed for %s: %w", f, err)
	}
	delete(n.forwards, n.key(f))
	return nil
}

// SetForwards makes the active forwards exactly want: removes the others,
// adds the missing ones (for live updates of published ports).
func (n *Network) SetForwards(want []Forward) error {
	keep := map[string]bool{}
	for _, f := range want {
		keep[n.key(f)] = true
	}
	n.mu.Lock()
	var stale []Forward
	for _, a := range n.forwards {
		if !keep[n.key(a.f)] {
			stale = append(stale, a.f)
		}
	}
	n.mu.Unlock()
	for _, f := range stale {
		if err := n.RemoveForward(f); err != nil {
			return err
		}
	}
	for _, f := range want {
		if err := n.AddForward(f); err != nil {
			return err
		}
	}
	return nil
}

func fromEntry(e hostfwdEntry) Forward {
	return Forward{Proto: e.Proto, HostAddr: e.HostAddr, HostPort: e.HostPort, GuestAddr: e.GuestAddr, GuestPort: e.GuestPort}
}

// Forwards lists the forwards slirp4netns reports (list_hostfwd).
func (n *Network) Forwards() ([]Forward, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != Active {
		return nil, fmt.Errorf("slirp4netns %s: list forwards: network is %s, not active", n.cfg.ID, n.state)
	}
	entries, err := listHostfwd(n.APISocket())
	if err != nil {
		return nil, fmt.Errorf("slirp4netns list_hostfwd: %w", err)
	}
	out := make([]Forward, 0, len(entries))
	for _, e := range entries {
		out = append(out, fromEntry(e))
	}
	return out, nil
}
