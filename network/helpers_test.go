package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"nucleus/internal/testutil"
	"nucleus/network/dns"
	"nucleus/spec"
)

// testEnv is one test's Manager with a unique project and a leak check
// that runs when the test ends.
type testEnv struct {
	t       testing.TB
	m       *Manager
	project string
	ctx     context.Context
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	m, err := NewManager(root)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, m: m, project: "t" + testutil.RandHex(4), ctx: context.Background()}
	t.Cleanup(func() {
		if err := m.RemoveProject(context.Background(), e.project); err != nil {
			t.Errorf("RemoveProject: %v", err)
		}
		m.Close()
		left, err := LeakCheck(root)
		if err != nil {
			t.Errorf("LeakCheck: %v", err)
		}
		if len(left) > 0 {
			t.Errorf("LeakCheck found objects left behind:\n%s", strings.Join(left, "\n"))
		}
	})
	return e
}

func (e *testEnv) network(name string, mod func(*Config)) *NetworkInfo {
	e.t.Helper()
	n := &Config{Name: name, NAT: spec.NATKernel}
	if mod != nil {
		mod(n)
	}
	info, err := e.m.EnsureNetwork(e.ctx, e.project, n)
	if err != nil {
		e.t.Fatalf("EnsureNetwork %s: %v", name, err)
	}
	return info
}

func (e *testEnv) attach(a Attachment) *AttachInfo {
	e.t.Helper()
	a.Project = e.project
	info, err := e.m.Attach(e.ctx, a)
	if err != nil {
		e.t.Fatalf("Attach %s: %v", a.Service, err)
	}
	return info
}

// dbAndWeb attaches two stand-in sandboxes to network: service db (alias
// database), serving "db:"+echo on port 5432, and service web. It checks
// what Attach reports and returns both pids and db's attachment.
func (e *testEnv) dbAndWeb(network string, ni *NetworkInfo) (db, web int, dbi *AttachInfo) {
	e.t.Helper()
	db, web = sandbox(e.t), sandbox(e.t)
	dbi = e.attach(Attachment{Network: network, Service: "db", PID: db, Aliases: []string{"database"}})
	webi := e.attach(Attachment{Network: network, Service: "web", PID: web})
	if dbi.Interface != "eth0" || dbi.Gateway != ni.Gateway || dbi.IP == webi.IP {
		e.t.Fatalf("attach infos %+v %+v", dbi, webi)
	}
	serveEcho(e.t, db, ":5432", "db:")
	return db, web, dbi
}

// sandbox starts a stand-in sandbox: a process in a new network namespace.
func sandbox(t testing.TB) int {
	t.Helper()
	// No Pdeathsig: it fires when the creating OS thread exits, and Go
	// ends threads that a goroutine left locked (namespace helpers do).
	// The test kills it; the timeout bounds a crashed test's leftovers.
	cmd := exec.Command("sleep", "900")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sandbox process: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

func nsPath(pid int) string { return fmt.Sprintf("/proc/%d/ns/net", pid) }

// in runs fn with the calling thread in pid's network namespace (pid 0: the host).
func in(pid int, fn func() error) error {
	if pid == 0 {
		return fn()
	}
	return dns.InNetns(nsPath(pid), fn)
}

// serveEcho listens on TCP addr inside pid's namespace and answers every
// connection with prefix + what it reads first.
func serveEcho(t testing.TB, pid int, addr, prefix string) net.Addr {
	t.Helper()
	var l net.Listener
	if err := in(pid, func() (err error) { l, err = net.Listen("tcp4", addr); return }); err != nil {
		t.Fatalf("listen %s in pid %d: %v", addr, pid, err)
	}
	testutil.Serve(t, l, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		io.WriteString(c, prefix+string(buf[:n]))
	})
	return l.Addr()
}

// serveUDPEcho is serveEcho for UDP.
func serveUDPEcho(t testing.TB, pid int, addr, prefix string) {
	t.Helper()
	var pc net.PacketConn
	if err := in(pid, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return }); err != nil {
		t.Fatalf("listen udp %s in pid %d: %v", addr, pid, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(prefix+string(buf[:n])), from)
		}
	}()
}

// talk connects from pid's namespace to addr over TCP, sends "hi" and
// returns the answer (all the server sends before it closes).
func talk(pid int, addr string, timeout time.Duration) (string, error) {
	return talkOver("tcp4", pid, addr, timeout)
}

// talkUDP is talk over UDP: the answer is one datagram.
func talkUDP(pid int, addr string, timeout time.Duration) (string, error) {
	return talkOver("udp4", pid, addr, timeout)
}

func talkOver(network string, pid int, addr string, timeout time.Duration) (string, error) {
	var c net.Conn
	if err := in(pid, func() (err error) { c, err = net.DialTimeout(network, addr, timeout); return }); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "hi"); err != nil {
		return "", err
	}
	if network == "udp4" {
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func mustTalk(t testing.TB, pid int, addr, want string) {
	t.Helper()
	got, err := talk(pid, addr, 3*time.Second)
	if err != nil || got != want+"hi" {
		t.Fatalf("from pid %d to %s: got %q, %v; want %q", pid, addr, got, err, want+"hi")
	}
}

// refusedQuickly asserts that a TCP connect from pid to addr fails at once
// with a refusal (RST or ICMP), not a timeout.
func refusedQuickly(t testing.TB, pid int, addr string) {
	t.Helper()
	start := time.Now()
	_, err := talk(pid, addr, 3*time.Second)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("connect from pid %d to %s succeeded; want refused", pid, addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.ENETUNREACH) {
		t.Fatalf("connect from pid %d to %s: %v; want connection refused or host unreachable", pid, addr, err)
	}
	if took > time.Second {
		t.Fatalf("connect from pid %d to %s took %v to fail; want under 1s", pid, addr, took)
	}
}

// resolve asks the DNS server at server (from pid's namespace) for name's A records.
func resolve(pid int, server, name string) ([]string, error) {
	var conn *mdns.Conn
	if err := in(pid, func() error {
		c, err := net.DialTimeout("udp4", net.JoinHostPort(server, "53"), time.Second)
		conn = &mdns.Conn{Conn: c}
		return err
	}); err != nil {
		return nil, err
	}
	defer conn.Close()
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	cl := &mdns.Client{Timeout: 2 * time.Second}
	r, _, err := cl.ExchangeWithConn(q, conn)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

// outside is a namespace standing in for "the rest of the world": linked to
// the host by a veth with addresses from the 198.18.0.0/15 benchmark range.
type outside struct {
	pid      int
	hostAddr string // host end
	addr     string // the namespace's first address
	addr2    string // a second address in the namespace
}

func newOutside(t testing.TB) *outside {
	t.Helper()
	pid := sandbox(t)
	l := testutil.LinkOutside(t, nsPath(pid), 18, "ntest")
	return &outside{pid: pid, hostAddr: l.HostAddr, addr: l.Addrs[0], addr2: l.Addrs[1]}
}

// runIP runs the ip command (iproute2) in the calling thread's namespace.
func runIP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %v: %v: %s", args, err, out)
	}
	return nil
}
