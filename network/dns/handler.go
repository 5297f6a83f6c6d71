package dns

import (
	"net"
	"time"

	mdns "github.com/miekg/dns"
)

// handle answers one query: local records first, upstreams otherwise, then
// the client's egress policy, then UDP truncation.
func (s *Server) handle(w mdns.ResponseWriter, req *mdns.Msg) {
	if req.Opcode != mdns.OpcodeQuery || len(req.Question) != 1 {
		m := new(mdns.Msg)
		m.SetRcode(req, mdns.RcodeNotImplemented)
		w.WriteMsg(m) //nolint:errcheck // client gone
		return
	}
	q := req.Question[0]
	client := remoteIP(w.RemoteAddr())
	p := s.policies.get(client)
	resp := s.answerLocal(req)
	if resp == nil {
		if p != nil && !p.allows(q.Name) {
			// An egress-restricted client may resolve project names and
			// its allowed domains only: forwarding anything else would let
			// it tunnel data out in query names.
			refuse(w, req)
			return
		}
		resp = s.forward(req, client)
	}
	if p != nil && resp.Rcode == mdns.RcodeSuccess && p.allows(q.Name) {
		if ips, ttl := addressesOf(resp); len(ips) > 0 {
			p.onAllow(client, ips, ttl) // must finish before the client may connect
		}
	}
	if _, isUDP := w.RemoteAddr().(*net.UDPAddr); isUDP {
		resp.Truncate(int(udpSize(req)))
	}
	resp.Compress = true
	w.WriteMsg(resp) //nolint:errcheck // client gone
}

// answerLocal returns the reply for a name in the record set, nil otherwise.
// Known names answer A; any other type gets an empty NOERROR so resolvers
// asking A and AAAA in parallel do not wait for an upstream.
func (s *Server) answerLocal(req *mdns.Msg) *mdns.Msg {
	q := req.Question[0]
	if q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY {
		return nil
	}
	ips, ok := s.records.Load().lookup(q.Name)
	if !ok {
		return nil
	}
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY {
		ttl := uint32(s.cfg.TTL / time.Second)
		for _, ip := range ips {
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl},
				A:   ip,
			})
		}
	}
	return m
}

// forward tries each upstream in turn, starting with the one that answered
// last (so a dead first nameserver costs one timeout, not one per query); a
// timeout, a network error, SERVFAIL or REFUSED moves on to the next. A
// truncated UDP answer is retried over TCP against the same upstream.
// Nothing answering gives SERVFAIL. The client's own upstreams
// (SetClientUpstreams) replace the network's.
func (s *Server) forward(req *mdns.Msg, client net.IP) *mdns.Msg {
	ups, preferred := s.upstreamsFor(client)
	first := int(preferred.Load())
	for i := range ups {
		idx := (first + i) % len(ups)
		in, err := s.exchange(req, ups[idx])
		if err != nil || in.Rcode == mdns.RcodeServerFailure || in.Rcode == mdns.RcodeRefused {
			continue
		}
		preferred.Store(int32(idx))
		in.Id = req.Id
		return in
	}
	m := new(mdns.Msg)
	m.SetRcode(req, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

func (s *Server) exchange(req *mdns.Msg, upstream string) (*mdns.Msg, error) {
	c := mdns.Client{Net: "udp", Timeout: s.cfg.Timeout, UDPSize: udpSize(req)}
	in, _, err := c.Exchange(req, upstream)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.Exchange(req, upstream)
	}
	return in, err
}

// addressesOf returns the IPv4 addresses of an answer and the smallest TTL
// among them.
func addressesOf(m *mdns.Msg) ([]net.IP, time.Duration) {
	var ips []net.IP
	var ttl uint32
	for _, rr := range m.Answer {
		a, ok := rr.(*mdns.A)
		if !ok {
			continue
		}
		if len(ips) == 0 || a.Hdr.Ttl < ttl {
			ttl = a.Hdr.Ttl
		}
		ips = append(ips, a.A)
	}
	return ips, time.Duration(ttl) * time.Second
}

// udpSize is the largest UDP answer the client accepts (EDNS0, else 512).
func udpSize(req *mdns.Msg) uint16 {
	if opt := req.IsEdns0(); opt != nil && opt.UDPSize() > mdns.MinMsgSize {
		return opt.UDPSize()
	}
	return mdns.MinMsgSize
}

func remoteIP(a net.Addr) net.IP {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.IP
	case *net.TCPAddr:
		return a.IP
	}
	return nil
}

// refuse answers REFUSED: no larger than the query, and nothing forwarded.
func refuse(w mdns.ResponseWriter, req *mdns.Msg) {
	m := new(mdns.Msg)
	m.SetRcode(req, mdns.RcodeRefused)
	w.WriteMsg(m) //nolint:errcheck // client gone
}
