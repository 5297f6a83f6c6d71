package network

// The shared hub without root. The hub's namespace is made inside the
// project's user namespace (internal/keeper: a keeper holds that one, a
// hub holder the hub's network namespace), whose sandboxes join it too
// (runtime.Config.UserNSPath). The user owns that user namespace, so it
// may do there what root does in the root hub; but a Go process cannot
// enter it (setns(CLONE_NEWUSER) needs a single thread), and from outside
// it setns(CLONE_NEWNET) into the hub is EPERM. So each hub operation runs
// in a helper: this binary re-executed through nsenter into the project's
// user namespace and the hub, where the root hub's own code (configureHub,
// hubVeth, nft.Apply, ...) runs unchanged against /proc/HOLDER/ns/net. The
// DNS server's sockets are made there too and passed back (SCM_RIGHTS):
// the resolver itself keeps running in the supervisor. So is one netfilter
// socket per hub, over which the resolver adds answered addresses to domain
// sets before it replies (allowInHub): a helper per answer cost ~7 ms.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/keeper"
	"nucleus/internal/subid"
	"nucleus/network/dns"
	"nucleus/network/nft"
	"nucleus/network/pasta"
	"nucleus/spec"
)

const hubOpEnv = "NUCLEUS_HUB_OP"

// hubOp is one operation in a rootless hub.
type hubOp struct {
	Op     string        `json:"op"`
	Pin    string        `json:"pin"`
	GW     string        `json:"gw,omitempty"`
	Prefix int           `json:"prefix,omitempty"`
	Name   string        `json:"name,omitempty"`
	PID    int           `json:"pid,omitempty"`
	IP     string        `json:"ip,omitempty"`
	Table  *nft.Table    `json:"table,omitempty"`
	IPs    []net.IP      `json:"ips,omitempty"`
	TTL    time.Duration `json:"ttl,omitempty"`
	Addr   string        `json:"addr,omitempty"`
}

type hubOpResult struct {
	Err string `json:"err,omitempty"`
	// Errno is the error's errno, if any: callers test for some (the
	// resolver's EADDRINUSE: another process serves the network).
	Errno  int    `json:"errno,omitempty"`
	Inside string `json:"inside,omitempty"`
	MAC    string `json:"mac,omitempty"`
	Count  uint64 `json:"count,omitempty"`
}

// RunHubOp performs the hub operation this process was started for, and
// exits; without one it returns at once. Call it first in main (and
// TestMain of packages whose tests run a rootless supervisor).
func RunHubOp() {
	arg := os.Getenv(hubOpEnv)
	if arg == "" {
		return
	}
	var op hubOp
	var res hubOpResult
	err := json.Unmarshal([]byte(arg), &op)
	if err == nil {
		res, err = op.run()
	}
	if err != nil {
		res.Err = err.Error()
		var en unix.Errno
		if errors.As(err, &en) {
			res.Errno = int(en)
		}
	}
	json.NewEncoder(os.Stdout).Encode(res) //nolint:errcheck // the caller reports a missing answer
	os.Exit(0)
}

func (op hubOp) run() (hubOpResult, error) {
	var r hubOpResult
	var err error
	switch op.Op {
	case "configure":
		err = configureHub(op.Pin, net.ParseIP(op.GW), op.Prefix)
	case "veth":
		r.Inside, r.MAC, err = hubVeth(op.Pin, op.Name, op.PID, net.ParseIP(op.IP), op.Prefix, net.ParseIP(op.GW))
	case "unlink":
		err = deleteHubLink(op.Pin, op.Name)
	case "table":
		err = nft.Apply(op.Table)
	case "allow":
		err = nft.AddAllowed(hubTable, op.Name, op.IPs, op.TTL)
	case "denied":
		r.Count, err = nft.Denied(hubTable, op.Name)
	case "dns":
		err = sendDNSSockets(op.Addr)
	case "nftsock":
		err = sendNftSocket()
	default:
		err = fmt.Errorf("unknown hub operation %q", op.Op)
	}
	return r, err
}

// rootlessHub is a hub reached through helpers: the project's keeper
// (user namespace) and the hub's holder (network namespace).
type rootlessHub struct {
	userns keeper.Keeper
	holder keeper.Keeper
}

func (h rootlessHub) pin() string { return h.holder.NetNSPath() }

// do runs op in the hub; extra files become the helper's fd 3 onwards.
func (h rootlessHub) do(op hubOp, extra ...*os.File) (hubOpResult, error) {
	op.Pin = h.pin()
	b, err := json.Marshal(op)
	if err != nil {
		return hubOpResult{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return hubOpResult{}, err
	}
	cmd := exec.Command("nsenter", "--user="+h.userns.UserNSPath(), "--net="+h.pin(), "--preserve-credentials", "--", exe)
	cmd.Env = []string{hubOpEnv + "=" + string(b), "GOMAXPROCS=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.ExtraFiles = extra
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return hubOpResult{}, fmt.Errorf("hub %s: %w: %s", op.Op, err, bytes.TrimSpace(errb.Bytes()))
	}
	var r hubOpResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return r, fmt.Errorf("hub %s: no answer (%q, stderr %q)", op.Op, out.String(), errb.String())
	}
	if r.Err != "" {
		return r, hubError{msg: r.Err, errno: unix.Errno(r.Errno)}
	}
	return r, nil
}

// hubError is a helper's error, with its errno for errors.Is.
type hubError struct {
	msg   string
	errno unix.Errno
}

func (e hubError) Error() string { return e.msg }

func (e hubError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}

// projectKeeper starts (or finds) the keeper of project's user namespace,
// mapped as the runtime maps it (runtime.ProjectUserNS starts the same one
// when a sandbox comes first).
func projectKeeper(run, project string) (keeper.Keeper, error) {
	return keeper.Ensure(keeper.ProjectDir(run, project), func(pid int) error {
		m, err := subid.Sandbox(os.Getuid(), os.Getgid())
		if err != nil {
			return err
		}
		return m.Write(pid)
	})
}

// sendDNSSockets binds the resolver's UDP and TCP sockets on addr (in the
// hub: this runs in the helper) and sends them over fd 3.
func sendDNSSockets(addr string) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	pc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return err
	}
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ua.IP, Port: ua.Port})
	if err != nil {
		return err
	}
	pf, err := pc.File()
	if err != nil {
		return err
	}
	lf, err := l.File()
	if err != nil {
		return err
	}
	return unix.Sendmsg(3, []byte{0}, unix.UnixRights(int(pf.Fd()), int(lf.Fd())), nil, 0)
}

// sendNftSocket opens a NETLINK_NETFILTER socket in the hub (this runs in
// the helper) and sends it over fd 3: the supervisor then changes the
// hub's sets over it without a helper each time (nft.Socket).
func sendNftSocket() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("netfilter socket: %w", err)
	}
	return unix.Sendmsg(3, []byte{0}, unix.UnixRights(fd), nil, 0)
}

// recvFiles runs op in the hub and receives the n files it sends on fd 3.
func (h rootlessHub) recvFiles(op hubOp, n int) ([]*os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "hub-r"), os.NewFile(uintptr(fds[1]), "hub-w")
	defer mine.Close()
	defer theirs.Close()
	if _, err := h.do(op, theirs); err != nil {
		return nil, err
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4*n))
	_, oobn, _, _, err := unix.Recvmsg(fds[0], buf, oob, unix.MSG_DONTWAIT)
	if err != nil {
		return nil, fmt.Errorf("hub %s: receive its sockets: %w", op.Op, err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("hub %s: receive its sockets: %v (%d messages)", op.Op, err, len(msgs))
	}
	got, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(got) != n {
		for _, fd := range got {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("hub %s: receive its sockets: %v (%d of %d)", op.Op, err, len(got), n)
	}
	files := make([]*os.File, n)
	for i, fd := range got {
		files[i] = os.NewFile(uintptr(fd), op.Op)
	}
	return files, nil
}

// nftSocket asks a helper for a netfilter socket in the hub.
func (h rootlessHub) nftSocket() (*nft.Socket, error) {
	files, err := h.recvFiles(hubOp{Op: "nftsock"}, 1)
	if err != nil {
		return nil, err
	}
	return nft.NewSocket(files[0])
}

// dnsSockets asks a helper for the resolver's sockets in the hub.
func (h rootlessHub) dnsSockets(addr string) (net.PacketConn, net.Listener, error) {
	files, err := h.recvFiles(hubOp{Op: "dns", Addr: addr}, 2)
	if err != nil {
		return nil, nil, err
	}
	pf, lf := files[0], files[1]
	defer pf.Close()
	defer lf.Close()
	pc, err := net.FilePacketConn(pf)
	if err != nil {
		return nil, nil, err
	}
	l, err := net.FileListener(lf)
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, l, nil
}

// rootlessHubOK says whether a network of an ordinary user gets the shared
// hub: its way out (slirp4netns or pasta, pickHelper) must be installed,
// and nsenter and unshare (util-linux) must be there to enter the project's
// namespace. A /dev/net/tun the user may open both shapes need (CheckTun,
// before).
func rootlessHubOK(n *NetworkState) bool {
	h, err := pickHelper(n.UserspaceBackend)
	if err != nil {
		return false
	}
	if h == spec.UserspacePasta {
		h = pasta.Binary
	}
	for _, c := range []string{"nsenter", "unshare", h} {
		if _, err := exec.LookPath(c); err != nil {
			return false
		}
	}
	return true
}

// hubOf finds the running rootless hub of n (keeper and holder).
func (u *userspaceBackend) hubOf(n *NetworkState) (rootlessHub, error) {
	ex := extraOf(n)
	k, ok := keeper.Find(keeper.ProjectDir(u.root.Run, n.Project))
	if !ok {
		return rootlessHub{}, fmt.Errorf("network %s: the project's user namespace keeper is not running", n.Name)
	}
	h, ok := keeper.Find(ex.Hub)
	if !ok {
		return rootlessHub{}, fmt.Errorf("network %s: the hub holder (%s) is not running", n.Name, ex.Hub)
	}
	return rootlessHub{userns: k, holder: h}, nil
}

// ensureRootlessHub starts what is missing of n's rootless hub; created
// says whether the holder is new.
func (u *userspaceBackend) ensureRootlessHub(n *NetworkState, ex userspaceExtra) (rootlessHub, bool, error) {
	k, err := projectKeeper(u.root.Run, n.Project)
	if err != nil {
		return rootlessHub{}, false, err
	}
	h, ok := keeper.Find(ex.Hub)
	if ok {
		return rootlessHub{userns: k, holder: h}, false, nil
	}
	if h, err = keeper.EnsureHub(ex.Hub, k); err != nil {
		return rootlessHub{}, false, err
	}
	return rootlessHub{userns: k, holder: h}, true, nil
}

// inHub runs fn in n's hub: directly as root, else through a helper (op).
func (u *userspaceBackend) inHub(n *NetworkState, op hubOp, direct func() error) (hubOpResult, error) {
	if !extraOf(n).Rootless {
		return hubOpResult{}, direct()
	}
	h, err := u.hubOf(n)
	if err != nil {
		return hubOpResult{}, err
	}
	return h.do(op)
}

func (u *userspaceBackend) rootlessDNS(n *NetworkState) bool { return extraOf(n).Rootless }

// serveDNS serves n's names on sockets a helper bound in the hub.
func (u *userspaceBackend) serveDNS(srv *dns.Server, n *NetworkState, addr string) error {
	h, err := u.hubOf(n)
	if err != nil {
		return err
	}
	subnet, err := netip.ParsePrefix(n.Subnet)
	if err != nil {
		return err
	}
	pc, l, err := h.dnsSockets(addr)
	if err != nil {
		return err
	}
	return srv.ServeOn(pc, l, subnet)
}

// hubSocket is a netfilter socket in a rootless hub, for the resolver's
// additions to domain sets (one helper per hub instead of one per answer).
type hubSocket struct {
	holder int // the hub holder's pid when the socket was made
	s      *nft.Socket
}

// allowInHub adds ips to a's domain set in n's rootless hub over the
// hub's socket, made on first use. The holder is checked each time: a
// socket keeps its namespace alive, so one of a hub since replaced would
// fill a set no packet meets.
func (u *userspaceBackend) allowInHub(n *NetworkState, a *AttachmentState, ips []net.IP, ttl time.Duration) error {
	h, err := u.hubOf(n)
	if err != nil {
		return err
	}
	dir := extraOf(n).Hub
	u.mu.Lock()
	hs := u.hubSocks[dir]
	u.mu.Unlock()
	if hs == nil || hs.holder != h.holder.PID {
		u.dropHubSocket(dir)
		s, err := h.nftSocket()
		if err != nil {
			return err
		}
		hs = &hubSocket{holder: h.holder.PID, s: s}
		u.mu.Lock()
		if old := u.hubSocks[dir]; old != nil {
			old.s.Close() // another answer made one meanwhile
		}
		if u.hubSocks == nil {
			u.hubSocks = map[string]*hubSocket{}
		}
		u.hubSocks[dir] = hs
		u.mu.Unlock()
	}
	if err := hs.s.AddAllowed(hubTable, a.HostIf, ips, ttl); err != nil {
		// A helper does it once more, and the next answer gets a new socket.
		u.dropHubSocket(dir)
		_, err = h.do(hubOp{Op: "allow", Name: a.HostIf, IPs: ips, TTL: ttl})
		return err
	}
	return nil
}

// dropHubSocket closes the socket of the hub whose holder records itself
// in dir (the hub goes, or its socket failed).
func (u *userspaceBackend) dropHubSocket(dir string) {
	u.mu.Lock()
	hs := u.hubSocks[dir]
	delete(u.hubSocks, dir)
	u.mu.Unlock()
	if hs != nil {
		hs.s.Close()
	}
}

// closeHubSockets closes every hub's socket (the Manager closes).
func (u *userspaceBackend) closeHubSockets() {
	u.mu.Lock()
	socks := u.hubSocks
	u.hubSocks = nil
	u.mu.Unlock()
	for _, hs := range socks {
		hs.s.Close()
	}
}
