package network

import (
	"fmt"
	"net"
	"slices"
	"strconv"
)

// Ephemeral host ports: a port without a host port ("8080", or published
// left out) is published on a port the kernel picks, as Compose does. The
// Manager picks it when the replica is attached (bind HOST_IP:0, close) and
// records it per replica and port in NetworkState.Ephemeral, so a restart
// of the same replica gets the same port back while it is free.

// ephemeralKey names one port of one replica.
func ephemeralKey(attach string, p Port) string {
	return attach + "/" + protoOf(p) + "/" + strconv.Itoa(p.Target) + "/" + hostIPOf(p)
}

// isEphemeral: a single port without a host port. A range without one is
// left unpublished (nucleus does not pick a block of ports).
func isEphemeral(p Port) bool {
	return p.Published == 0 && (p.TargetEnd == 0 || p.TargetEnd == p.Target)
}

// withEphemeral returns ports with every ephemeral one given its host port:
// the one cur (the running attachment) has, else the recorded one if it is
// still free, else a new one from the kernel.
func (m *Manager) withEphemeral(n *NetworkState, attach string, ports, cur []Port) ([]Port, error) {
	if !slices.ContainsFunc(ports, isEphemeral) {
		return ports, nil
	}
	out := slices.Clone(ports)
	if n.Ephemeral == nil {
		n.Ephemeral = map[string]int{}
	}
	for i, p := range out {
		if !isEphemeral(p) {
			continue
		}
		key := ephemeralKey(attach, p)
		port := 0
		for _, c := range cur {
			if c.Target == p.Target && protoOf(c) == protoOf(p) && hostIPOf(c) == hostIPOf(p) && c.Published == n.Ephemeral[key] && c.Published != 0 {
				port = c.Published // ours already: a bind would find it taken
			}
		}
		if port == 0 {
			if prev := n.Ephemeral[key]; prev != 0 && portFree(p, prev) {
				port = prev
			}
		}
		if port == 0 {
			var err error
			if port, err = freePort(p); err != nil {
				return nil, err
			}
		}
		n.Ephemeral[key] = port
		out[i].Published, out[i].PublishedEnd = port, port
	}
	return out, nil
}

// freePort asks the kernel for a free port on p's host address.
func freePort(p Port) (int, error) {
	addr := net.JoinHostPort(hostIPOf(p), "0")
	if protoOf(p) == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return 0, fmt.Errorf("pick a host port for %d/udp: %w", p.Target, err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return 0, fmt.Errorf("pick a host port for %d/tcp: %w", p.Target, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFree reports whether port can still be bound on p's host address.
func portFree(p Port, port int) bool {
	addr := net.JoinHostPort(hostIPOf(p), strconv.Itoa(port))
	if protoOf(p) == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	l, err := net.Listen("tcp4", addr)
	if err == nil {
		l.Close()
	}
	return err == nil
}

// forgetEphemeral drops the recorded ports of a replica removed for good.
func forgetEphemeral(n *NetworkState, attach string) bool {
	changed := false
	for k := range n.Ephemeral {
		if len(k) > len(attach) && k[:len(attach)+1] == attach+"/" {
			delete(n.Ephemeral, k)
			changed = true
		}
	}
	return changed
}
