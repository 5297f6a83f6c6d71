package dns

import (
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

// namesSeen is an upstream that records every name it is asked and
// answers A 198.18.0.9.
func namesSeen(t *testing.T) (string, func() []string) {
	var mu sync.Mutex
	var seen []string
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		mu.Lock()
		seen = append(seen, strings.ToLower(r.Question[0].Name))
		mu.Unlock()
		answerA("198.18.0.9", 30)(w, r)
	})
	return up, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// TestInternalForwardsNothing (issue 9, DNS 1): an internal network has no
// way out, so its resolver answers project names and REFUSES the rest
// without forwarding them — whether the upstreams are the network's dns:,
// the client's own dns:, or the host's, and whatever the client's egress
// policy allows.
func TestInternalForwardsNothing(t *testing.T) {
	up, seen := namesSeen(t)
	s, addr := startServer(t, Config{Upstreams: []string{up}, Internal: true})
	s.SetRecords(map[string][]net.IP{"db": ips("10.89.0.2")})
	secret := "c2VjcmV0.exfil.example"
	check := func(what string) {
		t.Helper()
		for _, netw := range []string{"udp", "tcp"} {
			for _, qt := range []uint16{mdns.TypeA, mdns.TypeTXT} {
				if m := query(t, netw, addr, secret, qt); m.Rcode != mdns.RcodeRefused || len(m.Answer) != 0 {
					t.Errorf("%s: %s %s %s: rcode %s answers %v, want REFUSED", what, netw, mdns.TypeToString[qt], secret, mdns.RcodeToString[m.Rcode], m.Answer)
				}
			}
			if got := aAnswers(query(t, netw, addr, "db", mdns.TypeA)); !slices.Equal(got, []string{"10.89.0.2"}) {
				t.Errorf("%s: %s project name db: %v, want 10.89.0.2", what, netw, got)
			}
		}
		if got := seen(); len(got) != 0 {
			t.Fatalf("%s: the upstream was asked %v", what, got)
		}
	}
	check("network dns:")
	s.SetClientUpstreams(net.ParseIP("127.0.0.1"), []string{up})
	check("client dns:")
	s.SetClientPolicy(net.ParseIP("127.0.0.1"), []string{"*.exfil.example"}, func(net.IP, []net.IP, time.Duration) {})
	check("egress policy allowing the name")
	s.RemoveClientPolicy(net.ParseIP("127.0.0.1"))
	s.SetClientUpstreams(net.ParseIP("127.0.0.1"), nil)

	// The host's resolv.conf as upstream: REFUSED at once, not SERVFAIL
	// after asking (nothing listens on 127.0.0.1:53 here, or something
	// that must not be asked).
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	testutil.WriteFile(t, rc, "nameserver 127.0.0.1\n")
	_, haddr := startServer(t, Config{ResolvConf: rc, Internal: true, Timeout: 5 * time.Second})
	start := time.Now()
	if m := query(t, "udp", haddr, secret, mdns.TypeA); m.Rcode != mdns.RcodeRefused || time.Since(start) > time.Second {
		t.Errorf("host resolvers: rcode %s after %v, want REFUSED at once", mdns.RcodeToString[m.Rcode], time.Since(start))
	}

	// Switched off live, names are forwarded again; back on, not.
	s.SetInternal(false, nil)
	if got := aAnswers(query(t, "udp", addr, "x.example", mdns.TypeA)); !slices.Equal(got, []string{"198.18.0.9"}) {
		t.Errorf("not internal: %v, want forwarded", got)
	}
	s.SetInternal(true, nil)
	if m := query(t, "udp", addr, "y.example", mdns.TypeA); m.Rcode != mdns.RcodeRefused {
		t.Errorf("internal again: rcode %s, want REFUSED", mdns.RcodeToString[m.Rcode])
	}
	if got := seen(); !slices.Equal(got, []string{"x.example."}) {
		t.Errorf("upstream saw %v, want only x.example.", got)
	}
}

// TestInternalForwardsToUpstreamsInsideTheProject: an upstream inside the
// project's subnets (its own DNS service) is asked; others are not.
func TestInternalForwardsToUpstreamsInsideTheProject(t *testing.T) {
	inside, seenInside := namesSeen(t)
	outside := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		t.Errorf("the upstream outside the project was asked %s", r.Question[0].Name)
		nxdomain(w, r)
	})
	// 127.0.0.1 stands in for the project's subnet; the outside upstream
	// is listed first and still never asked.
	outside2 := strings.Replace(outside, "127.0.0.1", "127.0.0.2", 1)
	s, addr := startServer(t, Config{Upstreams: []string{outside2, inside}, Internal: true,
		InternalUpstreams: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	_ = s
	for _, netw := range []string{"udp", "tcp"} {
		if got := aAnswers(query(t, netw, addr, "svc.internal.example", mdns.TypeA)); !slices.Equal(got, []string{"198.18.0.9"}) {
			t.Errorf("%s: %v, want the project's own upstream's answer", netw, got)
		}
	}
	if got := seenInside(); len(got) != 2 {
		t.Errorf("project upstream saw %v, want 2 queries", got)
	}
}

// TestSetUpstreamsTakesEffect (issue 9, DNS 3): a live change of the
// network's dns: is used by the next query.
func TestSetUpstreamsTakesEffect(t *testing.T) {
	oldUp, seenOld := namesSeen(t)
	newUp := startUpstream(t, answerA("198.18.0.2", 30))
	s, addr := startServer(t, Config{Upstreams: []string{oldUp}})
	if got := aAnswers(query(t, "udp", addr, "a.example", mdns.TypeA)); !slices.Equal(got, []string{"198.18.0.9"}) {
		t.Fatalf("before: %v", got)
	}
	s.SetUpstreams([]string{newUp})
	for _, netw := range []string{"udp", "tcp"} {
		if got := aAnswers(query(t, netw, addr, "b.example", mdns.TypeA)); !slices.Equal(got, []string{"198.18.0.2"}) {
			t.Errorf("%s after SetUpstreams: %v, want the new upstream's 198.18.0.2", netw, got)
		}
	}
	if got := seenOld(); !slices.Equal(got, []string{"a.example."}) {
		t.Errorf("old upstream saw %v after the change", got)
	}
}

// TestForwardingSocketsCarryTheMark (issue 9, DNS 2): with a mark, every
// forwarding socket (UDP and TCP) has SO_MARK set before it sends.
func TestForwardingSocketsCarryTheMark(t *testing.T) {
	testutil.RequireRoot(t)
	const mark = 0x6e123456
	s := NewServer(Config{Mark: mark})
	defer s.Close()
	up := startUpstream(t, nxdomain)
	for _, netw := range []string{"udp", "tcp"} {
		c, err := s.dialer(time.Second).Dial(netw, up)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := c.(syscall.Conn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var got int
		var gerr error
		sc.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK) })
		c.Close()
		if gerr != nil || uint32(got) != mark {
			t.Errorf("%s socket mark %#x (%v), want %#x", netw, got, gerr, mark)
		}
	}
	// And queries still work with it.
	s2, addr := startServer(t, Config{Upstreams: []string{startUpstream(t, answerA("198.18.0.3", 30))}, Mark: mark})
	_ = s2
	if got := aAnswers(query(t, "udp", addr, "m.example", mdns.TypeA)); !slices.Equal(got, []string{"198.18.0.3"}) {
		t.Errorf("marked forwarding: %v", got)
	}
}
