package network

// Userspace NAT backend (nat: userspace).
//
// Shape: every project network gets one "hub" network namespace, pinned on
// a file under <Root.Run>/userspace-net. Inside the hub:
//
//	br0     a bridge holding the network's gateway address; every sandbox
//	        of the network is attached to it by a veth pair (host end in
//	        the hub, eth0/ethN in the sandbox), so services of one network
//	        reach each other directly and resolve each other by name.
//	tap0    created by one slirp4netns process serving the hub (its own
//	        small subnet, 10.0.2.0/24 unless the network overlaps it; hub
//	        address = that subnet's base + 100). slirp4netns only NATs its
//	        own guest address, so the hub masquerades the bridge subnet
//	        out of tap0 (nftables table "nucleus_hub" inside the hub).
//	        With userspace_backend pasta, one pasta makes tap0 with the
//	        same addresses (ensureHubPasta); its forwards are on its
//	        command line, so a change of published ports restarts it.
//	DNS     the Manager's embedded resolver listens on the gateway
//	        address, port 53, with sockets created inside the hub
//	        (dns.Server.ListenInNetns); it forwards from the host, so a
//	        host loopback stub resolver keeps working.
//
// Published ports: slirp4netns listens on the host (add_hostfwd
// HOST_IP:PORT -> hub:PORT over its API socket) and a DNAT rule in the hub
// sends PORT on to SANDBOX:TARGET. Changes apply in place (list, add and
// remove hostfwd; the hub table is replaced in one nftables batch).
// Known limit (libslirp): with --disable-host-loopback, UDP answers to a
// client on the host's loopback are dropped, so published UDP ports answer
// clients that come through a real host address, not 127.0.0.1. TCP is
// not affected.
//
// Where the egress rules live: in the hub's nftables table (the same rules
// the kernel backend puts on the host: a per-sandbox chain on the forward
// and input hooks, a domain set filled by the DNS server, a deny counter,
// and bridge-family anti-spoofing on the sandbox's veth). The hub is a
// namespace of its own, outside every sandbox, so a service granted
// CAP_NET_ADMIN (or any capability) inside its sandbox cannot see or change
// these rules: its capabilities are scoped to its own network namespace,
// where it can only change its own eth0 (address, routes, its own
// nftables) — a changed source address or MAC, forged ARP and IPv6 are
// dropped by the anti-spoofing rules (nft/spoof.go), and every path out of
// the sandbox crosses the hub. What such a service CAN do: send any
// traffic to its peers on the same bridge (peers are always allowed) or
// flood the hub. Note slirp4netns itself runs with --enable-sandbox,
// --enable-seccomp and --disable-host-loopback, so nothing reaches the
// host's 127.0.0.0/8 and a compromised libslirp has few syscalls to use,
// and with --disable-dns (the embedded resolver serves the hub). It opens
// its sandboxes' connections from host sockets, as uid 0 with group
// slirp.GID, which every kernel-NAT table refuses into its subnets
// (nft/guard.go): a userspace network reaches kernel-NAT sandboxes only
// through published ports.
//
// Without root the hub is made inside the project's user namespace
// (rootless_hub.go); where a user cannot have one (rootlessHubOK), or with
// forceSandboxMode, the backend falls back to the per-sandbox shape of
// userspace_single.go: one helper per sandbox, no shared bridge, no
// service names, no egress rules.
//
// The hub and slirp4netns belong to the process that created
// them (slirp4netns exits when that process's exit pipe closes); a new
// process adopts the pinned hub on EnsureNetwork and starts a new
// slirp4netns with the recorded forwards.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"nucleus/internal/keeper"
	"nucleus/internal/rootdir"
	"nucleus/network/dns"
	"nucleus/network/nft"
	"nucleus/network/pasta"
	"nucleus/network/slirp"
	"nucleus/spec"
)

func init() {
	newUserspaceBackend = func(root rootdir.Root) (backend, error) {
		return &userspaceBackend{root: root, slirps: map[string]*slirp.Network{}}, nil
	}
	leakCheckers = append(leakCheckers, userspaceLeaks)
}

// HostLoopbackEnv, set to 1 in the supervisor's environment, starts the
// hubs' slirp4netns without --disable-host-loopback (their pasta without
// --no-map-gw), so that sandboxes reach the host's 127.0.0.1 at the slirp
// subnet's base + 2 (10.0.2.2).
// For benchmarks (bench/net.sh measures egress to an iperf3 server on the
// host's loopback); a hub already running keeps the flags it started with.
const HostLoopbackEnv = "NUCLEUS_USERSPACE_HOST_LOOPBACK"

const (
	hubBridge = "br0"
	hubTable  = "nucleus_hub"
	hubMTU    = slirp.DefaultMTU
)

// userspaceExtra is the backend's part of a network record.
type userspaceExtra struct {
	Mode        string `json:"mode"`         // modeHub or modeSandbox
	Hub         string `json:"hub"`          // pinned netns file
	SlirpID     string `json:"slirp_id"`     // runtime dir name under userspace-net
	SlirpSubnet string `json:"slirp_subnet"` // tap0's subnet inside the hub
	SlirpPID    int    `json:"slirp_pid,omitempty"`
	// Rootless: the hub is inside the project's user namespace, Hub is
	// its holder's directory, and every change goes through a helper
	// (rootless_hub.go).
	Rootless bool `json:"rootless,omitempty"`
	// Helper is the way out: spec.UserspacePasta or spec.UserspaceSlirp
	// ("" in records of older versions: slirp4netns).
	Helper string `json:"helper,omitempty"`
	// The hub's pasta (Helper pasta) and the forwards it was started with
	// (pasta has no API to change them: a change restarts it).
	PastaPID      int             `json:"pasta_pid,omitempty"`
	PastaForwards []slirp.Forward `json:"pasta_forwards,omitempty"`
}

type userspaceBackend struct {
	root rootdir.Root
	// forceSandboxMode picks the per-sandbox shape even as root (tests).
	forceSandboxMode bool

	mu     sync.Mutex
	slirps map[string]*slirp.Network // by SlirpID: started or adopted by this process
	// hubSocks are netfilter sockets in rootless hubs, by holder directory.
	hubSocks map[string]*hubSocket
}

func (u *userspaceBackend) kind() string { return spec.NATUserspace }

func (u *userspaceBackend) runtimeRoot() string { return filepath.Join(u.root.Run, "userspace-net") }

// names derives the network's host object names from the root and network.
func (u *userspaceBackend) names(n *NetworkState) userspaceExtra {
	id := "u" + nameHash(u.root.ID(), n.Project, n.Name)
	return userspaceExtra{Hub: filepath.Join(u.runtimeRoot(), id+".netns"), SlirpID: id}
}

func extraOf(n *NetworkState) userspaceExtra {
	var ex userspaceExtra
	if len(n.Extra) > 0 {
		json.Unmarshal(n.Extra, &ex) //nolint:errcheck // a bad record is rebuilt below
	}
	return ex
}

func setExtra(n *NetworkState, ex userspaceExtra) {
	b, _ := json.Marshal(ex)
	n.Extra = b
}

// slirpSubnet picks tap0's subnet inside the hub: any subnet that does not
// overlap the network's own (traffic to it would go to slirp4netns).
func slirpSubnet(subnet *net.IPNet) string {
	for _, c := range []string{"10.0.2.0/24", "10.0.3.0/24", "172.31.254.0/24"} {
		_, cand, _ := net.ParseCIDR(c)
		if !cand.Contains(subnet.IP) && !subnet.Contains(cand.IP) {
			return c
		}
	}
	return "192.168.254.0/24"
}

func (u *userspaceBackend) ensureNetwork(ctx context.Context, n *NetworkState) error {
	// The /25 floor of slirp4netns subnets applies to the network as well,
	// so a spec valid in one shape is valid in the other.
	if _, err := slirp.AddressesOf(n.Subnet); err != nil {
		return err
	}
	if err := CheckTun(); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	ex := extraOf(n)
	if ex.Mode == "" {
		ex.Mode = modeHub
		ex.Rootless = os.Geteuid() != 0
		if u.forceSandboxMode || (ex.Rootless && !rootlessHubOK(n)) {
			ex.Mode, ex.Rootless = modeSandbox, false
		}
		setExtra(n, ex)
	}
	if ex.Mode == modeSandbox {
		return u.ensureSingle(ctx, n)
	}
	h, err := pickHelper(n.UserspaceBackend)
	if err != nil {
		return err
	}
	switched := false
	if cur := cmp.Or(ex.Helper, spec.UserspaceSlirp); h != cur && ex.SlirpID != "" {
		// userspace_backend changed: the hub keeps its bridge, veths,
		// names and rules, and gets the other way out (connections
		// through the old one are cut).
		if err := u.stopSlirp(ex); err != nil {
			return fmt.Errorf("stop the hub's %s: %w", cur, err)
		}
		ex.SlirpPID, ex.PastaPID, ex.PastaForwards = 0, 0, nil
		switched = true
	}
	ex.Helper = h
	_, subnet, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return fmt.Errorf("subnet %q: %w", n.Subnet, err)
	}
	names := u.names(n)
	ex.Hub, ex.SlirpID = names.Hub, names.SlirpID
	if ex.Rootless {
		ex.Hub = filepath.Join(u.runtimeRoot(), names.SlirpID+".hub")
	}
	if ex.SlirpSubnet == "" {
		ex.SlirpSubnet = slirpSubnet(subnet)
	}
	n.Bridge = ""
	n.DNSAddr = n.Gateway

	var created bool
	if ex.Rootless {
		_, created, err = u.ensureRootlessHub(n, ex)
	} else {
		created, err = ensureHub(ex.Hub)
	}
	if err != nil {
		return err
	}
	fail := func(err error) error {
		if created {
			u.stopSlirp(ex)
			u.removeHubOf(ex)
			os.Remove(u.runtimeRoot()) // only when empty
		}
		return err
	}
	setExtra(n, ex)
	ones, _ := subnet.Mask.Size()
	gw := net.ParseIP(n.Gateway)
	if _, err := u.inHub(n, hubOp{Op: "configure", GW: n.Gateway, Prefix: ones}, func() error {
		return configureHub(ex.Hub, gw, ones)
	}); err != nil {
		return fail(err)
	}
	setExtra(n, ex)
	if err := u.applyTable(n); err != nil {
		return fail(err)
	}
	err = u.ensureSlirp(ctx, n, &ex)
	// Just switched: the old helper's tap0 may not be gone yet (the
	// kernel unregisters it after the process died).
	for try := 0; switched && err != nil && strings.Contains(err.Error(), "TUNSETIFF") && try < 40 && ctx.Err() == nil; try++ {
		time.Sleep(25 * time.Millisecond)
		err = u.ensureSlirp(ctx, n, &ex)
	}
	if err != nil {
		return fail(err)
	}
	setExtra(n, ex)
	return nil
}

// ensureSlirp keeps one running slirp4netns for the hub: the one this
// process runs, else the one another live process of this root runs
// (adopted through its API socket), else a new one.
func (u *userspaceBackend) ensureSlirp(ctx context.Context, n *NetworkState, ex *userspaceExtra) error {
	// The hub's sandboxes ask the embedded resolver on the gateway, never
	// slirp4netns's own DNS (it would forward to the host's resolver past
	// egress domain rules): switched off.
	cfg := slirp.Config{
		ID: ex.SlirpID, RuntimeRoot: u.runtimeRoot(), NetnsPath: ex.Hub,
		Subnet: ex.SlirpSubnet, DisableDNS: true,
		HostLoopback: os.Getenv(HostLoopbackEnv) == "1",
	}
	if ex.Rootless {
		h, err := u.hubOf(n)
		if err != nil {
			return err
		}
		// By the holder's pid, not the namespace's path: slirp4netns
		// 1.2.0 joins the user namespace for its --enable-sandbox only
		// for a pid target (with --netns-type=path its setegid(0) fails).
		cfg.NetnsPath, cfg.PID, cfg.UsernsPath = "", h.holder.PID, h.userns.UserNSPath()
	}
	if ex.Helper == spec.UserspacePasta {
		return u.ensureHubPasta(ctx, n, ex, cfg)
	}
	pid, err := u.runSlirp(ctx, cfg, ex.SlirpPID, wantForwards(n))
	ex.SlirpPID = pid
	return err
}

// runSlirp makes sure the slirp4netns of cfg runs with exactly forwards and
// returns its pid. recordedPid is the instance the record knows about.
func (u *userspaceBackend) runSlirp(ctx context.Context, cfg slirp.Config, recordedPid int, forwards []slirp.Forward) (int, error) {
	u.mu.Lock()
	s := u.slirps[cfg.ID]
	u.mu.Unlock()
	if s == nil && recordedPid > 0 {
		// Another process of this root started it and is still alive (the
		// instance would have exited with it otherwise): share it.
		if a, err := slirp.Adopt(cfg, recordedPid); err == nil {
			s = a
			u.mu.Lock()
			u.slirps[cfg.ID] = s
			u.mu.Unlock()
		}
	}
	if s != nil && s.State() == slirp.Active && !exited(s) {
		if err := s.SetForwards(forwards); err != nil {
			return s.PID(), err
		}
		return s.PID(), nil
	}
	u.stopSlirp(userspaceExtra{SlirpID: cfg.ID, SlirpPID: recordedPid})
	cfg.Forwards = forwards
	s, err := slirp.New(cfg)
	if err != nil {
		return 0, err
	}
	// A refused forward tears the new instance down (Start does).
	if err := s.Start(ctx); err != nil {
		os.Remove(u.runtimeRoot()) // only when empty
		return 0, err
	}
	u.mu.Lock()
	u.slirps[cfg.ID] = s
	u.mu.Unlock()
	return s.PID(), nil
}

func exited(s *slirp.Network) bool {
	select {
	case <-s.Exited():
		return true
	default:
		return false
	}
}

// stopSlirp ends the network's slirp4netns: ours through its exit pipe, an
// orphan of an earlier process by its recorded PID (checked against its
// command line, so a reused PID is left alone).
func (u *userspaceBackend) stopSlirp(ex userspaceExtra) error {
	if ex.SlirpID == "" {
		return nil // nothing started (and "" would name the whole runtime root)
	}
	u.mu.Lock()
	s := u.slirps[ex.SlirpID]
	delete(u.slirps, ex.SlirpID)
	u.mu.Unlock()
	var err error
	if s != nil && s.State() != slirp.Cleaned {
		err = s.Stop()
	}
	if ex.SlirpPID > 0 {
		killOrphanSlirp(ex.SlirpPID, filepath.Join(u.runtimeRoot(), ex.SlirpID))
	}
	if perr := pasta.Stop(u.pastaConfig(ex.SlirpID), ex.PastaPID); perr != nil {
		err = errors.Join(err, perr)
	}
	os.RemoveAll(filepath.Join(u.runtimeRoot(), ex.SlirpID))
	return err
}

// ensureHubPasta keeps the hub's pasta running with the network's
// forwards, as ensureSinglePasta does for a sandbox: the hub's tap0 gets
// the address slirp4netns would give it, so the hub table is the same.
func (u *userspaceBackend) ensureHubPasta(ctx context.Context, n *NetworkState, ex *userspaceExtra, sc slirp.Config) error {
	cfg := pasta.Config{ID: sc.ID, RuntimeRoot: sc.RuntimeRoot, PID: sc.PID, NetnsPath: sc.NetnsPath,
		UsernsPath: sc.UsernsPath, Subnet: sc.Subnet, DisableDNS: true, Forwards: wantForwards(n), HostLoopback: sc.HostLoopback}
	if pasta.Running(cfg, ex.PastaPID) && slices.Equal(ex.PastaForwards, cfg.Forwards) {
		return nil
	}
	if err := pasta.Stop(cfg, ex.PastaPID); err != nil {
		return err
	}
	ex.PastaPID, ex.PastaForwards = 0, nil
	pid, err := pasta.Start(ctx, cfg)
	if err != nil {
		os.Remove(u.runtimeRoot()) // only when empty
		return err
	}
	ex.PastaPID, ex.PastaForwards = pid, cfg.Forwards
	return nil
}

func (u *userspaceBackend) removeNetwork(ctx context.Context, n *NetworkState) error {
	ex := extraOf(n)
	if ex.Mode == modeSandbox {
		return u.removeSingle(n)
	}
	if ex.Hub == "" {
		ex = u.names(n)
	}
	var errs []error
	if err := u.stopSlirp(ex); err != nil {
		errs = append(errs, err)
	}
	// The veths die with the hub; their sandbox ends go with them.
	if err := u.removeHubOf(ex); err != nil {
		errs = append(errs, err)
	}
	os.Remove(u.runtimeRoot()) // only when empty
	return joinErrs(errs)
}

// removeHubOf unpins the hub (root) or stops its holder (rootless).
func (u *userspaceBackend) removeHubOf(ex userspaceExtra) error {
	if ex.Rootless {
		u.dropHubSocket(ex.Hub)
		return keeper.Stop(ex.Hub)
	}
	return removeHub(ex.Hub)
}

// unlink deletes a sandbox's veth from the hub.
func (u *userspaceBackend) unlink(n *NetworkState, name string) error {
	ex := extraOf(n)
	if ex.Rootless {
		if _, ok := keeper.Find(ex.Hub); !ok {
			return nil // the hub is gone, and its links with it
		}
	}
	_, err := u.inHub(n, hubOp{Op: "unlink", Name: name}, func() error { return deleteHubLink(ex.Hub, name) })
	return err
}

func (u *userspaceBackend) attach(ctx context.Context, n *NetworkState, a *AttachmentState) error {
	ex := extraOf(n)
	if ex.Mode == modeSandbox {
		return u.attachSingle(ctx, n, a)
	}
	_, subnet, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return err
	}
	ones, _ := subnet.Mask.Size()
	host, _ := vethNames(u.root, n.Project, n.Name, a.Service, a.Replica)
	var inside, mac string
	r, err := u.inHub(n, hubOp{Op: "veth", Name: host, PID: a.PID, IP: a.IP, Prefix: ones, GW: n.Gateway}, func() (err error) {
		inside, mac, err = hubVeth(ex.Hub, host, a.PID, net.ParseIP(a.IP), ones, net.ParseIP(n.Gateway))
		return err
	})
	if err != nil {
		return err
	}
	if ex.Rootless {
		inside, mac = r.Inside, r.MAC
	}
	a.HostIf, a.Interface, a.MAC = host, inside, mac
	if err := u.sync(ctx, n); err != nil {
		// Back to the state without this sandbox.
		u.unlink(n, host) //nolint:errcheck // best effort
		a.HostIf, a.Interface, a.MAC = "", "", ""
		u.sync(ctx, n) //nolint:errcheck // best effort; the first error is the one to report
		return err
	}
	return nil
}

func (u *userspaceBackend) update(ctx context.Context, n *NetworkState, a *AttachmentState) error {
	if extraOf(n).Mode == modeSandbox {
		return u.updateSingle(ctx, n, a)
	}
	return u.sync(ctx, n)
}

func (u *userspaceBackend) detach(ctx context.Context, n *NetworkState, a *AttachmentState) error {
	ex := extraOf(n)
	if ex.Mode == modeSandbox {
		return u.stopSingle(a)
	}
	err := u.sync(ctx, n)
	if a.HostIf != "" {
		if derr := u.unlink(n, a.HostIf); err == nil {
			err = derr
		}
	}
	return err
}

// sync makes the hub's table and slirp4netns's forwards match the record.
func (u *userspaceBackend) sync(ctx context.Context, n *NetworkState) error {
	if err := u.applyTable(n); err != nil {
		return err
	}
	ex := extraOf(n)
	if ex.Helper == spec.UserspacePasta {
		// Restarted only when its forwards changed (or it died).
		err := u.ensureSlirp(ctx, n, &ex)
		setExtra(n, ex)
		return err
	}
	u.mu.Lock()
	s := u.slirps[ex.SlirpID]
	u.mu.Unlock()
	if s == nil || exited(s) {
		// Another process started this network (or slirp4netns died):
		// take it over with a fresh slirp4netns.
		if err := u.ensureSlirp(ctx, n, &ex); err != nil {
			return err
		}
		setExtra(n, ex)
		return nil
	}
	return s.SetForwards(wantForwards(n))
}

// applyTable replaces the hub's nftables table: masquerade of the subnet
// out of tap0, DNAT of forwarded ports, egress chains.
func (u *userspaceBackend) applyTable(n *NetworkState) error {
	cp := *n
	cp.Bridge = hubBridge
	// Forwarded traffic reaches the hub on tap0's address whatever host
	// address it came in on, so the hub's DNAT matches the port only.
	cp.Attachments = map[string]*AttachmentState{}
	seen := map[string]string{}
	for k, a := range n.Attachments {
		ac := *a
		ac.Ports = nil
		for _, p := range a.Ports {
			start, end := portRange(p)
			for hp := start; hp <= end && start != 0; hp++ {
				key := fmt.Sprintf("%d/%s", hp, protoOf(p))
				if prev, ok := seen[key]; ok && prev != hostIPOf(p) {
					return fmt.Errorf("userspace NAT cannot publish port %s on two host addresses (%s and %s)", key, prev, hostIPOf(p))
				}
				seen[key] = hostIPOf(p)
			}
			p.HostIP = "0.0.0.0"
			ac.Ports = append(ac.Ports, p)
		}
		cp.Attachments[k] = &ac
	}
	tn, err := tableNetwork(&cp)
	if err != nil {
		return err
	}
	t := &nft.Table{Name: hubTable, Networks: []nft.Network{tn}}
	_, err = u.inHub(n, hubOp{Op: "table", Table: t}, func() error {
		return dns.InNetns(extraOf(n).Hub, func() error { return nft.Apply(t) })
	})
	return err
}

// wantForwards are the slirp4netns forwards of every wired attachment: the
// host port goes to the same port on the hub, where DNAT picks the sandbox.
func wantForwards(n *NetworkState) []slirp.Forward {
	var out []slirp.Forward
	for _, k := range sortedKeys(n.Attachments) {
		if a := n.Attachments[k]; a.HostIf != "" {
			out = appendForwards(out, a, func(_ Port, hostPort int) int { return hostPort })
		}
	}
	return out
}

// appendForwards appends a slirp4netns forward for every fixed host port a
// publishes (0.0.0.0 is slirp4netns's empty address); guestPort says where
// each host port goes.
func appendForwards(out []slirp.Forward, a *AttachmentState, guestPort func(p Port, hostPort int) int) []slirp.Forward {
	for _, p := range a.Ports {
		start, end := portRange(p)
		if start == 0 {
			continue
		}
		host := hostIPOf(p)
		if host == "0.0.0.0" {
			host = ""
		}
		for hp := start; hp <= end; hp++ {
			out = append(out, slirp.Forward{Proto: protoOf(p), HostAddr: host, HostPort: hp, GuestPort: guestPort(p, hp)})
		}
	}
	return out
}

func (u *userspaceBackend) dnsEndpoint(n *NetworkState) (string, string) {
	if extraOf(n).Mode == modeSandbox {
		// No place both the sandboxes and this process can reach: the
		// sandboxes use slirp4netns's DNS (see userspace_single.go).
		return "", "127.0.0.1:0"
	}
	return extraOf(n).Hub, net.JoinHostPort(n.Gateway, "53")
}

func (u *userspaceBackend) allowResolved(n *NetworkState, a *AttachmentState, ips []net.IP, ttl time.Duration) error {
	if extraOf(n).Mode == modeSandbox {
		return errNoEgressSingle
	}
	if extraOf(n).Rootless {
		return u.allowInHub(n, a, ips, ttl)
	}
	return dns.InNetns(extraOf(n).Hub, func() error { return nft.AddAllowed(hubTable, a.HostIf, ips, ttl) })
}

func (u *userspaceBackend) egressDenied(n *NetworkState, a *AttachmentState) (uint64, error) {
	if extraOf(n).Mode == modeSandbox {
		return 0, errNoEgressSingle
	}
	var c uint64
	r, err := u.inHub(n, hubOp{Op: "denied", Name: a.HostIf}, func() error {
		return dns.InNetns(extraOf(n).Hub, func() (err error) {
			c, err = nft.Denied(hubTable, a.HostIf)
			return err
		})
	})
	if extraOf(n).Rootless {
		c = r.Count
	}
	return c, err
}
