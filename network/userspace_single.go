package network

// The per-sandbox shape of the userspace backend, used without root: the
// shape of the system nucleus is modelled on. Each sandbox gets its own
// slirp4netns (target = the sandbox's PID, --userns-path when the sandbox
// has its own user namespace), its address is the subnet's base + 100
// (a static address other than that is refused), DNS is slirp4netns's
// built-in forwarder at base + 3, and published ports are hostfwds
// straight to the sandbox. What it cannot do: services do not reach each
// other except through published host ports, names of other services do
// not resolve (an unprivileged process cannot put a listener into the
// sandbox's namespace), and egress rules are refused (there is no place
// outside the sandbox to enforce them without privileges).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"nucleus/network/slirp"
)

const (
	modeHub     = "hub"
	modeSandbox = "sandbox"
)

var errNoEgressSingle = errors.New("egress rules need the shared userspace network (root): per-sandbox slirp4netns has no place outside the sandbox to enforce them")

// singleExtra is the backend's part of an attachment record.
type singleExtra struct {
	SlirpPID int `json:"slirp_pid"`
}

func (u *userspaceBackend) ensureSingle(ctx context.Context, n *NetworkState) error {
	addrs, err := slirp.AddressesOf(n.Subnet)
	if err != nil {
		return err
	}
	n.Bridge = ""
	n.DNSAddr = addrs.DNS.String()
	if len(n.Upstreams) > 0 {
		// --disable-dns: the sandboxes ask the configured server directly.
		host, _, err := net.SplitHostPort(n.Upstreams[0])
		if err != nil {
			host = n.Upstreams[0]
		}
		n.DNSAddr = host
	}
	// After a supervisor restart: give running sandboxes their slirp4netns back.
	for _, a := range n.Attachments {
		if a.HostIf == "" || !pidAlive(a.PID) {
			continue
		}
		if err := u.ensureSingleSlirp(ctx, n, a); err != nil {
			return err
		}
	}
	return nil
}

func singleID(u *userspaceBackend, n *NetworkState, a *AttachmentState) string {
	return "s" + nameHash(u.root.ID(), n.Project, n.Name, a.Service, fmt.Sprint(normReplica(a.Replica)))
}

// pinnedAddr: slirp4netns --configure gives each sandbox the guest address.
func (u *userspaceBackend) pinnedAddr(n *NetworkState) string {
	if extraOf(n).Mode != modeSandbox {
		return ""
	}
	addrs, err := slirp.AddressesOf(n.Subnet)
	if err != nil {
		return "" // attach reports it
	}
	return addrs.Guest.String()
}

func (u *userspaceBackend) attachSingle(ctx context.Context, n *NetworkState, a *AttachmentState) error {
	addrs, err := slirp.AddressesOf(n.Subnet)
	if err != nil {
		return err
	}
	if a.Static {
		if err := addrs.CheckStatic(a.IP); err != nil {
			return err
		}
	}
	if a.Egress != nil {
		return errNoEgressSingle
	}
	a.IP = addrs.Guest.String()
	a.HostIf = singleID(u, n, a)
	a.Interface = slirp.DefaultDevice
	if err := u.ensureSingleSlirp(ctx, n, a); err != nil {
		a.HostIf, a.Interface = "", ""
		return err
	}
	return nil
}

// ensureSingleSlirp makes sure the sandbox's slirp4netns runs (see runSlirp).
func (u *userspaceBackend) ensureSingleSlirp(ctx context.Context, n *NetworkState, a *AttachmentState) error {
	var ex singleExtra
	if len(a.Extra) > 0 {
		json.Unmarshal(a.Extra, &ex) //nolint:errcheck // a bad record only loses the pid
	}
	cfg := slirp.Config{
		ID: a.HostIf, RuntimeRoot: u.runtimeRoot(), PID: a.PID,
		Subnet: n.Subnet, DisableDNS: len(n.Upstreams) > 0,
	}
	if otherUserns(a.PID) {
		cfg.UsernsPath = fmt.Sprintf("/proc/%d/ns/user", a.PID)
	}
	pid, err := u.runSlirp(ctx, cfg, ex.SlirpPID, singleForwards(a))
	if err != nil {
		return err
	}
	a.Extra, _ = json.Marshal(singleExtra{SlirpPID: pid})
	return nil
}

func (u *userspaceBackend) updateSingle(ctx context.Context, n *NetworkState, a *AttachmentState) error {
	if a.Egress != nil {
		return errNoEgressSingle
	}
	return u.ensureSingleSlirp(ctx, n, a)
}

// stopSingle ends the sandbox's slirp4netns (ours or an orphan).
func (u *userspaceBackend) stopSingle(a *AttachmentState) error {
	if a.HostIf == "" {
		return nil
	}
	var ex singleExtra
	if len(a.Extra) > 0 {
		json.Unmarshal(a.Extra, &ex) //nolint:errcheck // a bad record only loses the orphan's pid
	}
	err := u.stopSlirp(userspaceExtra{SlirpID: a.HostIf, SlirpPID: ex.SlirpPID})
	os.Remove(u.runtimeRoot()) // only when empty
	return err
}

func (u *userspaceBackend) removeSingle(n *NetworkState) error {
	var errs []error
	for _, a := range n.Attachments {
		if err := u.stopSingle(a); err != nil {
			errs = append(errs, err)
		}
	}
	os.Remove(u.runtimeRoot())
	return joinErrs(errs)
}

// singleForwards maps published ports straight to the sandbox's ports.
func singleForwards(a *AttachmentState) []slirp.Forward {
	return appendForwards(nil, a, func(p Port, hostPort int) int {
		start, _ := portRange(p)
		return p.Target + hostPort - start
	})
}

// otherUserns reports whether pid lives in another user namespace than
// this process (a rootless sandbox): slirp4netns must join it then.
func otherUserns(pid int) bool {
	self, err1 := os.Readlink("/proc/self/ns/user")
	other, err2 := os.Readlink(filepath.Join("/proc", fmt.Sprint(pid), "ns/user"))
	return err1 == nil && err2 == nil && self != other
}
