package network

// The per-sandbox shape of the userspace backend, used without root: the
// shape of the system nucleus is modelled on. Each sandbox gets its own
// helper, pasta or slirp4netns (userspace_backend; pickHelper), with the
// sandbox's PID as target and its user namespace joined when it has its
// own; its address is the subnet's base + 100
// (a static address other than that is refused), DNS is the helper's
// forwarder at base + 3, and published ports are hostfwds
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
	"os/exec"
	"path/filepath"
	"slices"

	"nucleus/network/pasta"
	"nucleus/network/slirp"
	"nucleus/spec"
)

const (
	modeHub     = "hub"
	modeSandbox = "sandbox"
)

var errNoEgressSingle = errors.New("egress rules need the shared userspace hub, which this network does not have (without root it needs a /dev/net/tun the user may open, nsenter and unshare): a per-sandbox helper has no place outside the sandbox to enforce them")

// singleExtra is the backend's part of an attachment record.
type singleExtra struct {
	SlirpPID int `json:"slirp_pid"`
	PastaPID int `json:"pasta_pid,omitempty"`
	// PastaForwards are the forwards the running pasta was started with
	// (pasta has no API to change them: a change restarts it).
	PastaForwards []slirp.Forward `json:"pasta_forwards,omitempty"`
}

// pickHelper resolves userspace_backend for the per-sandbox shape: auto
// is slirp4netns when installed, else pasta: measured here (bench/net.sh,
// Debian's passt of 2023-03) slirp4netns moved about 3x pasta's egress and
// east-west throughput and at least as much to a published port.
func pickHelper(want string) (string, error) {
	switch want {
	case spec.UserspaceSlirp:
		return want, nil
	case spec.UserspacePasta:
		if !pasta.Available() {
			return "", fmt.Errorf("userspace_backend pasta: the pasta command is not installed (Debian package passt)")
		}
		return want, nil
	case "", spec.UserspaceAuto:
		if _, err := exec.LookPath("slirp4netns"); err != nil && pasta.Available() {
			return spec.UserspacePasta, nil
		}
		return spec.UserspaceSlirp, nil
	}
	return "", fmt.Errorf("userspace_backend %q: expected auto, pasta or slirp4netns", want)
}

func (u *userspaceBackend) ensureSingle(ctx context.Context, n *NetworkState) error {
	addrs, err := slirp.AddressesOf(n.Subnet)
	if err != nil {
		return err
	}
	ex := extraOf(n)
	if ex.Helper == "" || len(n.Attachments) == 0 {
		// Running sandboxes keep the helper they were started with.
		if ex.Helper, err = pickHelper(n.UserspaceBackend); err != nil {
			return err
		}
		setExtra(n, ex)
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
	if extraOf(n).Helper == spec.UserspacePasta {
		return u.ensureSinglePasta(ctx, cfg, a, ex)
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
	if perr := pasta.Stop(u.pastaConfig(a.HostIf), ex.PastaPID); perr != nil {
		err = errors.Join(err, perr)
	}
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

func (u *userspaceBackend) pastaConfig(id string) pasta.Config {
	return pasta.Config{ID: id, RuntimeRoot: u.runtimeRoot()}
}

// ensureSinglePasta keeps the sandbox's pasta running with a's forwards:
// one already running with the same forwards is kept, any other restarted.
func (u *userspaceBackend) ensureSinglePasta(ctx context.Context, sc slirp.Config, a *AttachmentState, ex singleExtra) error {
	cfg := pasta.Config{ID: sc.ID, RuntimeRoot: sc.RuntimeRoot, PID: sc.PID, UsernsPath: sc.UsernsPath,
		Subnet: sc.Subnet, DisableDNS: sc.DisableDNS, Forwards: singleForwards(a)}
	if pasta.Running(cfg, ex.PastaPID) && slices.Equal(ex.PastaForwards, cfg.Forwards) {
		return nil
	}
	if err := pasta.Stop(cfg, ex.PastaPID); err != nil {
		return err
	}
	pid, err := pasta.Start(ctx, cfg)
	if err != nil {
		os.Remove(u.runtimeRoot()) // only when empty
		return err
	}
	a.Extra, _ = json.Marshal(singleExtra{PastaPID: pid, PastaForwards: cfg.Forwards})
	return nil
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
