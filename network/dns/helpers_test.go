package dns

import (
	"net"
	"testing"
	"time"

	"nucleus/internal/testutil"

	mdns "github.com/miekg/dns"
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
		testutil.StartDNS(t, srv)
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
	return startServerIn(t, "", "127.0.0.1:0", cfg)
}

// startServerIn is startServer listening on addr in the network namespace
// at ns ("" for this one).
func startServerIn(t testing.TB, ns, addr string, cfg Config) (*Server, string) {
	t.Helper()
	s := NewServer(cfg)
	t.Cleanup(func() { s.Close() })
	listen := s.Listen
	if ns != "" {
		listen = func(addr string) error { return s.ListenInNetns(ns, addr) }
	}
	if err := listen(addr); err != nil {
		t.Fatal(err)
	}
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
