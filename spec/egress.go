package spec

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseEgressRule parses one egress allow entry:
//
//	192.0.2.0/24, 192.0.2.7          an IPv4 network or address (becomes /32)
//	198.51.100.7:5432/tcp            with a port or range (8000-8100) and protocol
//	api.example.com:443              an exact domain, optionally with port
//	*.example.com                    every subdomain of example.com
//
// A protocol without a port ("192.0.2.7/udp") allows every port of it.
func ParseEgressRule(s string) (EgressRule, error) {
	var r EgressRule
	rest := strings.TrimSpace(s)
	if rest == "" {
		return r, fmt.Errorf("empty egress entry")
	}
	for _, proto := range []string{"tcp", "udp"} {
		if strings.HasSuffix(rest, "/"+proto) {
			r.Protocol, rest = proto, strings.TrimSuffix(rest, "/"+proto)
			break
		}
	}
	if strings.Count(rest, ":") > 1 || strings.HasPrefix(rest, "[") {
		return r, fmt.Errorf("invalid egress entry %q: IPv6 is not supported; networks are IPv4", s)
	}
	host, port, hasPort := strings.Cut(rest, ":")
	if hasPort {
		var err error
		if r.PortStart, r.PortEnd, err = parsePortRange(port, "port"); err != nil {
			return r, fmt.Errorf("invalid egress entry %q: %v", s, err)
		}
	}
	switch {
	case strings.Contains(host, "/"):
		pfx, err := netip.ParsePrefix(host)
		if err != nil || !pfx.Addr().Is4() {
			return r, fmt.Errorf("invalid egress entry %q: %q is not an IPv4 CIDR (protocols are /tcp or /udp)", s, host)
		}
		if pfx.Masked() != pfx {
			return r, fmt.Errorf("invalid egress entry %q: %s has host bits set; did you mean %s?", s, host, pfx.Masked())
		}
		r.CIDR = pfx.String()
	case looksNumeric(host):
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is4() {
			return r, fmt.Errorf("invalid egress entry %q: %q is not an IPv4 address", s, host)
		}
		r.CIDR = netip.PrefixFrom(a, 32).String()
	default:
		if err := checkDomain(host); err != nil {
			return r, fmt.Errorf("invalid egress entry %q: %v", s, err)
		}
		r.Domain = strings.ToLower(host)
	}
	return r, nil
}

func looksNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return s != ""
}

// checkDomain accepts a DNS name or a "*." wildcard in front of one.
func checkDomain(h string) error {
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(name) > 253 || strings.Contains(name, "*") {
		return fmt.Errorf("%q is not a domain, address or CIDR (a wildcard is allowed only as a leading *.)", h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a valid domain name", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20
			if !(c >= 'a' && c <= 'z' || label[i] >= '0' && label[i] <= '9' || label[i] == '-' || label[i] == '_') {
				return fmt.Errorf("%q is not a valid domain name", h)
			}
		}
	}
	return nil
}

// String prints the rule in short syntax.
func (r EgressRule) String() string {
	s := r.CIDR + r.Domain
	if r.PortStart != 0 {
		s += ":" + rangeString(r.PortStart, r.PortEnd)
	}
	if r.Protocol != "" {
		s += "/" + r.Protocol
	}
	return s
}

var egressRuleKeys = []string{"cidr", "domain", "port_start", "port_end", "protocol"}

func (d *decoder) egress(v *node, p string) *Egress {
	if v.kind == kindNull {
		return nil
	}
	e := &Egress{Allow: []EgressRule{}}
	d.fields(v, p, []string{"allow"}, func(_ string, av *node, ap string) {
		d.each(av, ap, func(i int, it *node, ip string) {
			if it.kind == kindScalar {
				r, err := ParseEgressRule(it.value)
				if err != nil {
					d.errorf(it, ip, "%v", err)
					return
				}
				e.Allow = append(e.Allow, r)
				return
			}
			if r, ok := d.egressLong(it, ip); ok {
				e.Allow = append(e.Allow, r)
			}
		})
	})
	return e
}

// egressLong decodes the long form that `nucleus config` prints, by
// rebuilding the short form so both share one set of checks.
func (d *decoder) egressLong(n *node, p string) (EgressRule, bool) {
	if n.kind != kindMap {
		d.want(n, p, "an egress entry like 192.0.2.0/24 or api.example.com:443")
		return EgressRule{}, false
	}
	var host, ports, proto string
	var lo, hi int64
	ok := true
	d.fields(n, p, egressRuleKeys, func(k string, v *node, fp string) {
		switch k {
		case "cidr", "domain":
			if host != "" {
				d.errorf(v, fp, "give either cidr or domain, not both")
				ok = false
			}
			host, _ = d.str(v, fp)
		case "port_start":
			lo, _ = d.integer(v, fp, 1, 65535)
		case "port_end":
			hi, _ = d.integer(v, fp, 1, 65535)
		case "protocol":
			proto, _ = d.oneOf(v, fp, "tcp", "udp")
		}
	})
	if !ok {
		return EgressRule{}, false
	}
	if host == "" {
		d.errorf(n, p, "egress entry needs cidr or domain")
		return EgressRule{}, false
	}
	s := host
	if lo != 0 {
		if hi == 0 {
			hi = lo
		}
		ports = fmt.Sprintf(":%d-%d", lo, hi)
	}
	s += ports
	if proto != "" {
		s += "/" + proto
	}
	r, err := ParseEgressRule(s)
	if err != nil {
		d.errorf(n, p, "%v", err)
		return r, false
	}
	return r, true
}
