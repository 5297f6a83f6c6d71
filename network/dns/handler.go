package dns

import (
	"net"
	"strings"
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
		if p != nil && (!p.allows(q.Name) || !upstreamTypes[q.Qtype]) {
			// An egress-restricted client may resolve project names and
			// its allowed domains only: forwarding anything else would let
			// it tunnel data out in query names.
			refuse(w, req)
			return
		}
		if resp = s.forward(req, client, p != nil); resp == nil {
			// An internal network with no upstream inside the project:
			// the name goes nowhere (see scope.go).
			refuse(w, req)
			return
		}
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
// (SetClientUpstreams) replace the network's. On an internal network only
// upstreams inside the project are asked; with none, forward returns nil
// and nothing is sent.
func (s *Server) forward(req *mdns.Msg, client net.IP, restricted bool) *mdns.Msg {
	ups, preferred := s.upstreamsFor(client)
	first := int(preferred.Load())
	uq := upstreamQuery(req, restricted)
	asked := false
	for i := range ups {
		idx := (first + i) % len(ups)
		if !s.upstreamAllowed(ups[idx]) {
			continue
		}
		asked = true
		in, err := s.exchange(uq, ups[idx])
		if err != nil || in.Rcode == mdns.RcodeServerFailure || in.Rcode == mdns.RcodeRefused {
			continue
		}
		preferred.Store(int32(idx))
		return clientReply(req, in)
	}
	if !asked && s.internal.Load() != nil {
		return nil
	}
	m := new(mdns.Msg)
	m.SetRcode(req, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

// upstreamEDNSSize is the UDP answer size nucleus offers upstreams (the
// DNS flag day 2020 value); clients get answers truncated to their own size.
const upstreamEDNSSize = 1232

// upstreamTypes are the query types an egress-restricted client may send
// upstream: with any 16-bit type allowed, the type alone would carry two
// bytes of its choosing per query.
var upstreamTypes = map[uint16]bool{
	mdns.TypeA: true, mdns.TypeAAAA: true, mdns.TypeCNAME: true, mdns.TypeHTTPS: true,
	mdns.TypeSVCB: true, mdns.TypeMX: true, mdns.TypeTXT: true, mdns.TypeSRV: true,
	mdns.TypeNS: true, mdns.TypeSOA: true, mdns.TypeCAA: true, mdns.TypePTR: true,
}

// upstreamQuery builds what goes upstream for req from its question alone:
// a fresh ID, RD, and a plain EDNS0 record of nucleus's own. Nothing else the
// client wrote leaves the host (its ID, flags, authority and additional
// sections, EDNS options): an egress-restricted client could otherwise
// tunnel data out inside a query for an allowed name. For such a client the
// name is also lower-cased (0x20 case bits are data too) and the class fixed
// (handle refuses types outside upstreamTypes).
func upstreamQuery(req *mdns.Msg, restricted bool) *mdns.Msg {
	q := req.Question[0]
	m := new(mdns.Msg)
	m.Id = mdns.Id()
	m.RecursionDesired = true
	do := false
	if opt := req.IsEdns0(); opt != nil && !restricted {
		do = opt.Do()
	}
	if restricted {
		q.Name = strings.ToLower(q.Name)
		q.Qclass = mdns.ClassINET
	} else {
		m.CheckingDisabled = req.CheckingDisabled
	}
	m.Question = []mdns.Question{q}
	m.SetEdns0(upstreamEDNSSize, do)
	return m
}

// clientReply turns an upstream's answer to upstreamQuery(req) into the
// answer to req: the client's ID and question, and an EDNS0 record only if
// the client sent one.
func clientReply(req, in *mdns.Msg) *mdns.Msg {
	in.Id = req.Id
	in.Question = req.Question
	in.RecursionDesired = req.RecursionDesired
	extra := in.Extra[:0]
	for _, rr := range in.Extra {
		if rr.Header().Rrtype != mdns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	in.Extra = extra
	if opt := req.IsEdns0(); opt != nil {
		in.SetEdns0(udpSize(req), opt.Do())
	}
	return in
}

func (s *Server) exchange(req *mdns.Msg, upstream string) (*mdns.Msg, error) {
	c := mdns.Client{Net: "udp", Timeout: s.cfg.Timeout, UDPSize: udpSize(req), Dialer: s.dialer(s.cfg.Timeout)}
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
