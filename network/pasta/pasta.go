// Package pasta runs pasta (Debian's passt package) as a userspace
// network's way out, like slirp4netns (userspace_backend: pasta;
// slirp4netns measured faster here): into one sandbox (the per-sandbox
// shape) or into a hub namespace (by path, or by its holder's PID).
//
// pasta is started once per target with every published port on its
// command line; it has no API to change forwards, so a change of ports
// restarts it (open connections through the old ports are cut). It is
// told the addresses slirp4netns would use (guest base+100, gateway base+2,
// DNS forwarder base+3) so the two are interchangeable for the Manager, and
// it is locked down as slirp4netns is: no gateway mapping to the host's
// loopback (--no-map-gw), no automatic forwarding of ports in either
// direction (-t/-u/-T/-U none), IPv4 only.
package pasta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"nucleus/internal/procstat"
	"nucleus/network/slirp"
)

// Binary is the command run; tests and the backend's "auto" look it up.
const Binary = "pasta"

// Config describes one pasta instance.
type Config struct {
	ID          string // directory name under RuntimeRoot; also in the command line
	RuntimeRoot string
	PID         int    // a process in the target network namespace
	NetnsPath   string // the target network namespace by path (a pinned hub); else PID's
	UsernsPath  string // the sandbox's user namespace, "" when it shares ours
	Subnet      string // the network's subnet; addresses as slirp.AddressesOf
	DisableDNS  bool   // no DNS forwarder (the network has its own resolvers)
	Forwards    []slirp.Forward
	// HostLoopback maps the gateway (base + 2) to the host's loopback, as
	// slirp.Config.HostLoopback does; off: --no-map-gw.
	HostLoopback bool
}

// Dir is where the instance keeps its pid file and log.
func (c Config) Dir() string { return filepath.Join(c.RuntimeRoot, c.ID) }

// Available reports whether pasta is installed.
func Available() bool {
	_, err := exec.LookPath(Binary)
	return err == nil
}

// Args is pasta's command line for c (without the binary).
func (c Config) Args() ([]string, error) {
	a, err := slirp.AddressesOf(c.Subnet)
	if err != nil {
		return nil, err
	}
	ones, _ := a.Subnet.Mask.Size()
	args := []string{"--config-net", "-4"}
	if !c.HostLoopback {
		args = append(args, "--no-map-gw")
	}
	args = append(args, "--no-dhcp",
		"-a", a.Guest.String(), "-n", strconv.Itoa(ones), "-g", a.Gateway.String(),
		"-I", slirp.DefaultDevice, "-m", strconv.Itoa(slirp.DefaultMTU),
		"-P", filepath.Join(c.Dir(), "pasta.pid"), "-l", filepath.Join(c.Dir(), "pasta.log"), "-q",
		"-T", "none", "-U", "none")
	if !c.DisableDNS {
		args = append(args, "--dns-forward", a.DNS.String())
	}
	var tcp, udp []string
	for _, f := range c.Forwards {
		spec := fmt.Sprintf("%d:%d", f.HostPort, f.GuestPort)
		if f.HostAddr != "" && f.HostAddr != "0.0.0.0" {
			spec = f.HostAddr + "/" + spec
		}
		if f.Proto == "udp" {
			udp = append(udp, spec)
		} else {
			tcp = append(tcp, spec)
		}
	}
	for flag, specs := range map[string][]string{"-t": tcp, "-u": udp} {
		if len(specs) == 0 {
			args = append(args, flag, "none")
		}
		for _, s := range specs {
			args = append(args, flag, s)
		}
	}
	if os.Geteuid() == 0 {
		// As root pasta drops to nobody unless told otherwise, and nobody
		// may not open the sandbox's namespaces. The group is slirp4netns's
		// (slirp.GID), which every kernel-NAT table refuses into its
		// subnets, so a sandbox reaches kernel-NAT ones only through
		// published ports; without root pasta runs as the user, refused
		// the same way.
		args = append(args, "--runas", fmt.Sprintf("0:%d", slirp.GID))
	}
	if c.UsernsPath != "" {
		args = append(args, "--userns", c.UsernsPath)
	}
	ns := c.NetnsPath
	if ns == "" {
		ns = fmt.Sprintf("/proc/%d/ns/net", c.PID)
	}
	return append(args, "--netns", ns), nil
}

// Start runs pasta for c and returns its PID once the sandbox's interface
// is configured and every forward listens (pasta forks into the background
// only then; a port it cannot bind fails the start).
func Start(ctx context.Context, c Config) (int, error) {
	args, err := c.Args()
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(c.Dir(), 0o700); err != nil {
		return 0, fmt.Errorf("pasta runtime dir: %w", err)
	}
	var out bytes.Buffer
	run := func() error {
		out.Reset()
		cmd := exec.CommandContext(ctx, Binary, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		return cmd.Run()
	}
	err = run()
	// Restarted (a port change), the tap device of the pasta just killed
	// may not be gone yet: the kernel unregisters it after the process died.
	for try := 0; err != nil && strings.Contains(out.String(), "open tun") && try < 40 && ctx.Err() == nil; try++ {
		time.Sleep(25 * time.Millisecond)
		err = run()
	}
	if err != nil {
		msg := strings.TrimSpace(string(out.Bytes()) + " " + readTail(filepath.Join(c.Dir(), "pasta.log")))
		os.RemoveAll(c.Dir())
		return 0, fmt.Errorf("pasta (%s): %w: %s", strings.Join(args, " "), err, msg)
	}
	pid, err := readPID(filepath.Join(c.Dir(), "pasta.pid"))
	if err != nil {
		os.RemoveAll(c.Dir())
		return 0, err
	}
	return pid, nil
}

// Stop ends the instance recorded with pid (if it is still ours: its
// command line names c's directory) and removes its directory.
func Stop(c Config, pid int) error {
	var err error
	if pid > 0 && ours(pid, c.Dir()) {
		if kerr := syscallKill(pid); kerr != nil {
			err = fmt.Errorf("stop pasta %d: %w", pid, kerr)
		}
		// Until it has exited, not until its command line is gone: that
		// goes first, while its sockets (the published ports) are still
		// open, and a helper started next could not bind them.
		deadline := time.Now().Add(2 * time.Second)
		for procstat.Running(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if procstat.Running(pid) {
			err = errors.Join(err, fmt.Errorf("pasta %d still running 2s after SIGKILL", pid))
		}
	}
	os.RemoveAll(c.Dir())
	return err
}

// Running reports whether pid is the pasta of c.
func Running(c Config, pid int) bool { return pid > 0 && ours(pid, c.Dir()) }

func ours(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.HasPrefix(string(b), Binary+"\x00") && !strings.Contains(string(b), "/"+Binary+"\x00") {
		return false
	}
	if !procstat.Running(pid) {
		return false // gone, or a zombie: dead already, its parent (init) reaps it late
	}
	return strings.Contains(string(b), dir+"/")
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("pasta pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pasta pid file %s: expected a pid, got %q", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

func readTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
