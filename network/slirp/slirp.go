// Package slirp drives one slirp4netns process: userspace NAT for one
// network namespace, started with a ready pipe and an exit pipe and
// configured (port forwards) over its API socket.
//
// A Network moves Unconfigured → Configuring → Active → Cleaned. Start
// either reaches Active or leaves nothing behind (process, runtime
// directory) and ends in Cleaned; Stop always ends in Cleaned.
package slirp

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config describes one slirp4netns instance.
type Config struct {
	// ID names the runtime directory RuntimeRoot/ID; unique per instance.
	ID string
	// RuntimeRoot is the parent of runtime directories, e.g.
	// <Root.Run>/userspace-net.
	RuntimeRoot string

	// Exactly one target: the PID of a process in the namespace, or the
	// path of a network namespace (/proc/PID/ns/net, a pinned netns file).
	PID       int
	NetnsPath string
	// UsernsPath is the owning user namespace when running rootless
	// (/proc/PID/ns/user); empty as root.
	UsernsPath string

	Subnet string // IPv4 CIDR, at least a /25; "" = 10.0.2.0/24
	// StaticIP, when set, must be the guest address (subnet base + 100).
	StaticIP string
	MTU      int    // 0 = 65520
	Device   string // "" = tap0
	// DisableDNS turns off slirp's built-in DNS at base + 3 (set when the
	// network names its DNS servers explicitly).
	DisableDNS bool
	// Forwards are added one by one during Start; any refusal fails Start.
	Forwards []Forward

	ReadyTimeout time.Duration // 0 = 10s
	Binary       string        // "" = slirp4netns from PATH

	// DisableSeccomp starts slirp4netns without --enable-seccomp. By default
	// the filter is on (it limits what a compromised libslirp can ask the
	// kernel); Start falls back to running without it, with a logged reason,
	// only when the binary refuses the flag.
	DisableSeccomp bool

	// HostLoopback lets the guest reach the host's 127.0.0.1 at the
	// subnet's base + 2 (Podman's allow_host_loopback). Off by default
	// (--disable-host-loopback): nothing in a sandbox should reach
	// services that trust the host's loopback.
	HostLoopback bool
}

// State is where a Network is in its life.
type State int

const (
	Unconfigured State = iota
	Configuring
	Active
	Cleaned
)

func (s State) String() string {
	return [...]string{"unconfigured", "configuring", "active", "cleaned"}[s]
}

// GID is the group every slirp4netns that nucleus starts as root runs
// with (uid 0, so it keeps its capabilities; no supplementary groups).
// slirp4netns connects from the host's own sockets on behalf of its
// sandboxes, so without a mark of its own their traffic would look like
// the host's: every kernel-NAT project table drops new connections from
// sockets of this group to its subnets (network/nft, "fromhost"). One
// constant for the whole host, so it holds across state roots. The value
// lies outside the ranges distributions and systemd hand out; sharing it
// with some other group would only keep that group's root-owned sockets
// away from nucleus subnets too. A slirp4netns run by another user needs
// no mark: the same chain drops sockets of every uid but 0.
const GID = 0x6e75636c // "nucl"

// Defaults.
const (
	DefaultMTU          = 65520
	DefaultDevice       = "tap0"
	DefaultReadyTimeout = 10 * time.Second
	stopGrace           = 2 * time.Second
)

// Network is one slirp4netns instance. Methods are safe for concurrent use.
type Network struct {
	cfg   Config
	addrs Addresses

	mu       sync.Mutex
	state    State
	dir      string
	cmd      *exec.Cmd
	exitW    *os.File      // closing it asks slirp4netns to exit
	exited   chan struct{} // closed when the process has been waited for
	waitErr  error
	stderr   *tailBuffer
	forwards map[string]added // by Forward.key()

	pid   int // of the running slirp4netns
	pidfd int // adopted instances only: watches and signals the process
}

// New validates cfg and returns an Unconfigured Network. Nothing is created
// on the host until Start.
func New(cfg Config) (*Network, error) {
	if cfg.Subnet == "" {
		cfg.Subnet = DefaultSubnet
	}
	addrs, err := AddressesOf(cfg.Subnet)
	if err != nil {
		return nil, err
	}
	if err := addrs.CheckStatic(cfg.StaticIP); err != nil {
		return nil, err
	}
	if (cfg.PID > 0) == (cfg.NetnsPath != "") {
		return nil, errors.New("slirp4netns: want exactly one target, a PID or a netns path")
	}
	if cfg.ID == "" || cfg.RuntimeRoot == "" {
		return nil, errors.New("slirp4netns: ID and RuntimeRoot are required")
	}
	if filepath.Base(cfg.ID) != cfg.ID {
		return nil, fmt.Errorf("slirp4netns: ID %q must be a plain name", cfg.ID)
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.Device == "" {
		cfg.Device = DefaultDevice
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.Binary == "" {
		cfg.Binary = "slirp4netns"
	}
	for _, f := range cfg.Forwards {
		if err := checkForward(f); err != nil {
			return nil, err
		}
	}
	return &Network{cfg: cfg, addrs: addrs, forwards: map[string]added{}}, nil
}

// Addresses returns the guest, gateway and DNS addresses.
func (n *Network) Addresses() Addresses { return n.addrs }

// State returns the current state.
func (n *Network) State() State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

// Dir is the runtime directory (holds the API socket); "" before Start.
func (n *Network) Dir() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dir
}

// PID of the slirp4netns process; 0 when not running.
func (n *Network) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != Active {
		return 0
	}
	return n.pid
}

// APISocket is the path of the API socket.
func (n *Network) APISocket() string {
	return filepath.Join(n.cfg.RuntimeRoot, n.cfg.ID, "api.sock")
}

// transition moves from one of from to to, or reports an illegal move.
// Callers hold n.mu.
func (n *Network) transition(to State, from ...State) error {
	for _, f := range from {
		if n.state == f {
			n.state = to
			return nil
		}
	}
	return fmt.Errorf("slirp4netns %s: illegal state transition %s -> %s", n.cfg.ID, n.state, to)
}

// Start runs slirp4netns, waits until it has configured the device, and adds
// the configured forwards. On any failure everything is torn down.
func (n *Network) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.transition(Configuring, Unconfigured); err != nil {
		return err
	}
	err := n.start(ctx)
	if err != nil && !n.cfg.DisableSeccomp && n.seccompRefused() {
		// An old or differently built slirp4netns without seccomp support:
		// run it unfiltered rather than not at all, and say why.
		log.Printf("slirp4netns %s: --enable-seccomp refused, running without the seccomp filter: %v", n.cfg.ID, err)
		n.teardown()
		n.cfg.DisableSeccomp = true
		err = n.start(ctx)
	}
	if err != nil {
		n.teardown()
		n.state = Cleaned
		return err
	}
	for _, f := range n.cfg.Forwards {
		if err := n.addForward(f); err != nil {
			n.teardown()
			n.state = Cleaned
			return err
		}
	}
	n.state = Active
	return nil
}

func (n *Network) args(readyFD, exitFD int) []string {
	a := []string{
		"--configure",
		"--mtu=" + strconv.Itoa(n.cfg.MTU),
		"--ready-fd=" + strconv.Itoa(readyFD),
		"--exit-fd=" + strconv.Itoa(exitFD),
		"--api-socket", n.APISocket(),
		"--cidr", n.addrs.Subnet.String(),
	}
	if !n.cfg.HostLoopback {
		a = append(a, "--disable-host-loopback")
	}
	a = append(a, "--enable-sandbox")
	if !n.cfg.DisableSeccomp {
		a = append(a, "--enable-seccomp")
	}
	if n.cfg.DisableDNS {
		a = append(a, "--disable-dns")
	}
	if n.cfg.UsernsPath != "" {
		a = append(a, "--userns-path="+n.cfg.UsernsPath)
	}
	target := strconv.Itoa(n.cfg.PID)
	if n.cfg.NetnsPath != "" {
		a = append(a, "--netns-type=path")
		target = n.cfg.NetnsPath
	}
	return append(a, target, n.cfg.Device)
}

// start creates the runtime directory and the process and waits for the
// ready byte. Whatever it created is recorded in n for teardown.
func (n *Network) start(ctx context.Context) error {
	dir := filepath.Join(n.cfg.RuntimeRoot, n.cfg.ID)
	if err := os.MkdirAll(n.cfg.RuntimeRoot, 0o700); err != nil {
		return fmt.Errorf("slirp4netns runtime directory: %w", err)
	}
	// A leftover directory means a crashed earlier instance; its socket
	// would make slirp4netns fail to bind, so start from scratch.
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("slirp4netns runtime directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("slirp4netns runtime directory: %w", err)
	}
	n.dir = dir

	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("slirp4netns ready pipe: %w", err)
	}
	defer readyR.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return fmt.Errorf("slirp4netns exit pipe: %w", err)
	}
	n.exitW = exitW

	// ExtraFiles start at fd 3.
	cmd := exec.Command(n.cfg.Binary, n.args(3, 4)...)
	cmd.ExtraFiles = []*os.File{readyW, exitR}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 0, Gid: GID}}
	}
	n.stderr = &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = n.stderr, n.stderr
	// A child that inherited the output pipe must not keep Wait hanging.
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		return fmt.Errorf("start slirp4netns: %w", err)
	}
	n.cmd, n.pid = cmd, cmd.Process.Pid
	n.exited = make(chan struct{})
	go func() {
		err := cmd.Wait()
		n.waitErr = err
		close(n.exited)
	}()

	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := readyR.Read(b)
		if err == nil && b[0] != '1' {
			err = fmt.Errorf("ready pipe gave %q, want \"1\"", b)
		}
		ready <- err
	}()
	timer := time.NewTimer(n.cfg.ReadyTimeout)
	defer timer.Stop()
	select {
	case err := <-ready:
		if err == nil {
			return nil
		}
		// EOF: the process closed the pipe, most likely by exiting.
		select {
		case <-n.exited:
			return n.exitError("before it was ready")
		case <-time.After(stopGrace):
		}
		return fmt.Errorf("slirp4netns not ready: %w%s", err, n.stderr.suffix())
	case <-n.exited:
		return n.exitError("before it was ready")
	case <-timer.C:
		return fmt.Errorf("slirp4netns not ready within %s%s", n.cfg.ReadyTimeout, n.stderr.suffix())
	case <-ctx.Done():
		return fmt.Errorf("slirp4netns start: %w", ctx.Err())
	}
}

// exitError describes how the process ended: an exit code or a signal.
func (n *Network) exitError(when string) error {
	var ee *exec.ExitError
	if errors.As(n.waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("slirp4netns was killed by signal %d (%v) %s%s", int(ws.Signal()), ws.Signal(), when, n.stderr.suffix())
		}
		return fmt.Errorf("slirp4netns exited with code %d %s%s", ee.ExitCode(), when, n.stderr.suffix())
	}
	if n.waitErr != nil {
		return fmt.Errorf("slirp4netns ended %s: %w%s", when, n.waitErr, n.stderr.suffix())
	}
	return fmt.Errorf("slirp4netns exited with code 0 %s%s", when, n.stderr.suffix())
}

// Stop closes the exit pipe, waits up to 2 s for slirp4netns to exit, then
// kills it, and removes the runtime directory. Stopping a Network that is
// already Cleaned is an illegal transition.
func (n *Network) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.transition(Cleaned, Unconfigured, Configuring, Active); err != nil {
		return err
	}
	return n.teardown()
}

// Exited is closed when the slirp4netns process has ended (nil before Start).
func (n *Network) Exited() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exited
}

// teardown undoes whatever start created. Callers hold n.mu.
func (n *Network) teardown() error {
	var errs []error
	if n.exitW != nil {
		n.exitW.Close()
		n.exitW = nil
	}
	if n.cmd != nil {
		select {
		case <-n.exited:
		case <-time.After(stopGrace):
			n.cmd.Process.Kill() //nolint:errcheck // may have exited meanwhile
			<-n.exited
		}
		n.cmd = nil
	}
	if n.pidfd > 0 {
		n.stopAdopted()
	}
	if n.dir != "" {
		if err := os.RemoveAll(n.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove slirp4netns runtime directory: %w", err))
		}
		n.dir = ""
	}
	clear(n.forwards)
	return errors.Join(errs...)
}

// seccompRefused reports whether the last start failed because slirp4netns
// does not know or cannot install its seccomp filter (its message names it;
// the warning every --enable-seccomp start prints does not count).
func (n *Network) seccompRefused() bool {
	return n.stderr != nil && strings.Contains(strings.ToLower(n.stderr.said()), "seccomp")
}
