package testutil

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	mdns "github.com/miekg/dns"
)

// SyncBuffer is a bytes.Buffer safe for concurrent writers (exec.Cmd's copy
// goroutines, a supervisor's log) and a reader.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Serve accepts connections on l until the test ends, handing each to
// handle in a goroutine of its own; cleanup closes l.
func Serve(t testing.TB, l net.Listener, handle func(c net.Conn)) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
}

const ownNetnsEnv = "NUCLEUS_TEST_OWN_NETNS"

// RerunInOwnNetns runs the calling test again, alone, in a network namespace
// of its own (links, ip_forward, nftables and iptables state are per
// namespace), so it neither sees nor changes the host's. It returns true in
// the parent, which is then done: the child's failure fails it and its skip
// skips it. In the child it returns false, and the test goes on.
func RerunInOwnNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(ownNetnsEnv) != "" {
		return false
	}
	RequireRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), ownNetnsEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err == nil && strings.Contains(out, "--- SKIP: "+t.Name()) {
		t.Skip(out)
	}
	if err != nil || !strings.Contains(out, "--- PASS: "+t.Name()) {
		t.Fatalf("in its own network namespace: %v\n%s", err, out)
	}
	return true
}

// HoldPort listens on a free TCP port of ip (an address of 127.0.0.0/8 or
// 0.0.0.0) until the test ends and returns the port: a port another
// program holds.
func HoldPort(t testing.TB, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// StartDNS starts srv (on its PacketConn or Listener), waits until it
// serves and shuts it down when the test ends.
func StartDNS(t testing.TB, srv *mdns.Server) {
	t.Helper()
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
}
