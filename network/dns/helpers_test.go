package dns

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// startUpstream runs a throwaway upstream resolver on 127.0.0.1 (UDP+TCP on
// one port) answering with h. It never forwards anywhere.
func startUpstream(t testing.TB, h mdns.HandlerFunc) string {
	t.Helper()
	pc, l, err := bindPair("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*mdns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return pc.LocalAddr().String()
}

// answerA is an upstream handler answering every A query with ip, TTL ttl.
func answerA(ip string, ttl uint32) mdns.HandlerFunc {
	return func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if r.Question[0].Qtype == mdns.TypeA {
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl},
				A:   net.ParseIP(ip),
			})
		}
		w.WriteMsg(m)
	}
}

// nxdomain is an upstream handler that knows no name.
func nxdomain(w mdns.ResponseWriter, r *mdns.Msg) {
	m := new(mdns.Msg)
	m.SetRcode(r, mdns.RcodeNameError)
	w.WriteMsg(m)
}

func startServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	s := NewServer(cfg)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, s.Addrs()[0].String()
}

func query(t testing.TB, netw, server, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m, err := tryQuery(netw, server, name, qtype, nil)
	if err != nil {
		t.Fatalf("%s query %s %s at %s: %v", netw, mdns.TypeToString[qtype], name, server, err)
	}
	return m
}

func tryQuery(netw, server, name string, qtype uint16, from net.IP) (*mdns.Msg, error) {
	c := mdns.Client{Net: netw, Timeout: 5 * time.Second}
	if from != nil {
		c.Dialer = &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.UDPAddr{IP: from}}
		if netw == "tcp" {
			c.Dialer.LocalAddr = &net.TCPAddr{IP: from}
		}
	}
	req := new(mdns.Msg)
	req.SetQuestion(mdns.Fqdn(name), qtype)
	m, _, err := c.Exchange(req, server)
	return m, err
}

func aAnswers(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

// newNetns creates a network namespace pinned on a file under the test's
// temporary directory, with loopback up, and removes it at cleanup (checking
// that the pin is gone).
func newNetns(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		self := "/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/ns/net"
		if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
			errc <- err
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			t.Errorf("unpin netns %s: %v", path, err)
		}
		if h, err := netns.GetFromPath(path); err == nil {
			h.Close()
			// A plain file opens fine; only a still-mounted pin is a leak.
			var st unix.Statfs_t
			if unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC {
				t.Errorf("netns %s still pinned", path)
			}
		}
	})
	return path
}
