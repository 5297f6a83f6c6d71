package spec

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// AnyHostIP is the host address of a port published on every address.
const AnyHostIP = "0.0.0.0"

// ParsePort parses the compose short syntax
// [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|udp].
// "127.0.0.1::80" publishes container port 80 on an automatic host port.
func ParsePort(s string) (Port, error) {
	var p Port
	rest := strings.TrimSpace(s)
	p.Protocol = "tcp"
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		p.Protocol = rest[i+1:]
		rest = rest[:i]
	}
	if strings.HasPrefix(rest, "[") {
		return p, fmt.Errorf("invalid port %q: IPv6 host addresses are not supported; networks are IPv4", s)
	}
	parts := strings.Split(rest, ":")
	var hostIP, host, target string
	switch len(parts) {
	case 1:
		target = parts[0]
	case 2:
		host, target = parts[0], parts[1]
		if host == "" {
			return p, fmt.Errorf("invalid port %q: empty host port; write CONTAINER_PORT alone or HOST_PORT:CONTAINER_PORT", s)
		}
	case 3:
		hostIP, host, target = parts[0], parts[1], parts[2]
		if hostIP == "" {
			return p, fmt.Errorf("invalid port %q: empty host address", s)
		}
	default:
		return p, fmt.Errorf("invalid port %q; expected [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|udp]", s)
	}
	var err error
	if p.Target, p.TargetEnd, err = parsePortRange(target, "container port"); err != nil {
		return p, fmt.Errorf("invalid port %q: %v", s, err)
	}
	if host != "" {
		if p.Published, p.PublishedEnd, err = parsePortRange(host, "host port"); err != nil {
			return p, fmt.Errorf("invalid port %q: %v", s, err)
		}
	}
	p.HostIP = hostIP
	if err := finishPort(&p); err != nil {
		return p, fmt.Errorf("invalid port %q: %v", s, err)
	}
	return p, nil
}

// parsePortRange parses "80" or "8000-8010".
func parsePortRange(s, what string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := parsePortNumber(a, what)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	hi, err := parsePortNumber(b, what)
	if err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("%s range %s ends before it starts", what, s)
	}
	return lo, hi, nil
}

func parsePortNumber(s, what string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a number", what, s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%s %d is out of range 1-65535", what, n)
	}
	return n, nil
}

// finishPort checks protocol, host address and range lengths, and fills in
// the normalised defaults.
func finishPort(p *Port) error {
	if p.Protocol == "" {
		p.Protocol = "tcp"
	}
	if p.Protocol != "tcp" && p.Protocol != "udp" {
		return fmt.Errorf("unknown protocol %q; expected tcp or udp", p.Protocol)
	}
	if p.HostIP == "" {
		p.HostIP = AnyHostIP
	} else {
		a, err := netip.ParseAddr(strings.Trim(p.HostIP, "[]"))
		if err == nil && a.Is6() && !a.Is4In6() {
			return fmt.Errorf("host address %q is IPv6: IPv6 host addresses are not supported; networks are IPv4 (use 127.0.0.1 or 0.0.0.0)", p.HostIP)
		}
		if err != nil || !a.Is4() {
			return fmt.Errorf("host address %q is not an IPv4 address", p.HostIP)
		}
		p.HostIP = a.String()
	}
	if p.TargetEnd == 0 {
		p.TargetEnd = p.Target
	}
	if p.Published != 0 && p.PublishedEnd == 0 {
		p.PublishedEnd = p.Published
	}
	tn := p.TargetEnd - p.Target
	if p.Published == 0 {
		if tn != 0 {
			return fmt.Errorf("container port range %d-%d needs a host port range of the same length", p.Target, p.TargetEnd)
		}
		return nil
	}
	if hn := p.PublishedEnd - p.Published; hn != tn {
		return fmt.Errorf("host port range %s has %d ports but container port range %s has %d; the lengths must be equal",
			rangeString(p.Published, p.PublishedEnd), hn+1, rangeString(p.Target, p.TargetEnd), tn+1)
	}
	return nil
}

func rangeString(a, b int) string {
	if a == b {
		return strconv.Itoa(a)
	}
	return strconv.Itoa(a) + "-" + strconv.Itoa(b)
}

// String prints the port in short syntax, always with address and protocol.
func (p Port) String() string {
	host := ""
	if p.Published != 0 {
		host = rangeString(p.Published, p.PublishedEnd)
	}
	return p.HostIP + ":" + host + ":" + rangeString(p.Target, p.TargetEnd) + "/" + p.Protocol
}

var portKeys = []string{"target", "published", "host_ip", "protocol", "target_end", "published_end"}

// port decodes one ports entry in short or long form.
func (d *decoder) port(n *node, path string) (Port, bool) {
	if n.kind == kindScalar {
		p, err := ParsePort(n.value)
		if err != nil {
			d.errorf(n, path, "%v", err)
			return p, false
		}
		return p, true
	}
	if n.kind != kindMap {
		d.want(n, path, "a port like \"8080:80\" or a mapping with target")
		return Port{}, false
	}
	var p Port
	ok := true
	d.fields(n, path, portKeys, func(k string, v *node, fp string) {
		s, present := d.str(v, fp)
		if !present {
			return
		}
		var err error
		switch k {
		case "target":
			p.Target, p.TargetEnd, err = parsePortRange(s, "container port")
		case "published":
			p.Published, p.PublishedEnd, err = parsePortRange(s, "host port")
		case "target_end":
			p.TargetEnd, err = parsePortNumber(s, "container port")
		case "published_end":
			p.PublishedEnd, err = parsePortNumber(s, "host port")
		case "host_ip":
			p.HostIP = s
		case "protocol":
			p.Protocol = s
		}
		if err != nil {
			d.errorf(v, fp, "%v", err)
			ok = false
		}
	})
	if !ok {
		return p, false
	}
	if p.Target == 0 {
		d.errorf(n, path, "port needs a target (the container port)")
		return p, false
	}
	if p.TargetEnd != 0 && p.TargetEnd < p.Target || p.PublishedEnd != 0 && p.PublishedEnd < p.Published {
		d.errorf(n, path, "port range ends before it starts")
		return p, false
	}
	if err := finishPort(&p); err != nil {
		d.errorf(n, path, "%v", err)
		return p, false
	}
	return p, true
}
