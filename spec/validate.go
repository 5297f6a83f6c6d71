package spec

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// validate runs the checks that look across services and networks. The
// decoder stores only well-formed values, so it runs even after decoding
// errors and the user sees every problem at once.
func (d *decoder) validate(p *Project) {
	d.checkNetworks(p)
	d.checkServiceNetworks(p)
	d.checkNetworkCapacity(p)
	d.checkDependencies(p)
	d.checkPorts(p)
	d.checkReplicaNames(p)
	d.checkServiceDNSNames(p)
}

// checkReplicaNames: a service named like a replica of another service
// ("web-1" next to service web) would share its DNS name, which answers
// for both. A replica's name is SERVICE-N (reconcile.Ident.Name).
func (d *decoder) checkReplicaNames(p *Project) {
	for _, sname := range d.order {
		i := strings.LastIndexByte(sname, '-')
		if i <= 0 {
			continue
		}
		other, num := sname[:i], sname[i+1:]
		n, err := strconv.Atoi(num)
		if err != nil || strconv.Itoa(n) != num {
			continue
		}
		if o, ok := serviceFold(p, other); ok && n >= 1 && n <= max(o.Replicas, 1) {
			d.add(d.at("services."+sname), "services."+sname,
				fmt.Sprintf("service name %q is also the name of replica %d of service %s (and its DNS name); rename one of them", sname, n, o.Name))
		}
	}
}

// networkOrder returns network names in the order they were written.
func (d *decoder) networkOrder(p *Project) []string {
	names := make([]string, 0, len(p.Networks))
	for n := range p.Networks {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := d.at("networks."+names[i]), d.at("networks."+names[j])
		if a.order != b.order {
			return a.order < b.order
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return names[i] < names[j]
	})
	return names
}

// checkNetworks: overlapping subnets, and userspace NAT on small subnets.
func (d *decoder) checkNetworks(p *Project) {
	type seen struct {
		name string
		pfx  netip.Prefix
	}
	var done []seen
	for _, name := range d.networkOrder(p) {
		nw := p.Networks[name]
		if nw.Subnet == "" {
			continue
		}
		pfx := netip.MustParsePrefix(nw.Subnet)
		path := "networks." + name + ".subnet"
		at := d.at(path)
		if nw.NAT == NATUserspace && pfx.Bits() > 25 {
			d.add(at, path, fmt.Sprintf("subnet %s is too small for nat: userspace; use a /25 or larger", nw.Subnet))
		}
		for _, o := range done {
			if o.pfx.Overlaps(pfx) {
				d.add(at, path, fmt.Sprintf("subnet %s overlaps subnet %s of network %s", nw.Subnet, o.pfx, o.name))
			}
		}
		done = append(done, seen{name, pfx})
	}
}

// checkServiceNetworks: unknown networks, and static addresses that are
// outside the subnet, reserved, replicated or taken.
func (d *decoder) checkServiceNetworks(p *Project) {
	netNames := make([]string, 0, len(p.Networks))
	for n := range p.Networks {
		netNames = append(netNames, n)
	}
	taken := map[string]string{} // "net/addr" -> service
	for _, sname := range d.order {
		s := p.Services[sname]
		names := make([]string, 0, len(s.Networks))
		for n := range s.Networks {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, nname := range names {
			sn := s.Networks[nname]
			path := "services." + sname + ".networks." + nname
			nw, ok := p.Networks[nname]
			if !ok {
				d.add(d.at(path), "services."+sname+".networks", "unknown network "+strconv.Quote(nname)+orDeclare(suggest(nname, netNames), "networks"))
				continue
			}
			if sn.IPv4Address == "" {
				continue
			}
			apath := path + ".ipv4_address"
			at := d.at(apath)
			addr, err := netip.ParseAddr(sn.IPv4Address)
			if err != nil || !addr.Is4() {
				d.add(at, apath, fmt.Sprintf("invalid IPv4 address %q", sn.IPv4Address))
				continue
			}
			if nw.Subnet == "" {
				d.add(at, apath, fmt.Sprintf("a static address needs network %s to declare a subnet", nname))
				continue
			}
			pfx := netip.MustParsePrefix(nw.Subnet)
			network := pfx.Addr()
			gateway := network.Next()
			broadcast := lastAddr(pfx)
			switch {
			case !pfx.Contains(addr):
				d.add(at, apath, fmt.Sprintf("address %s is outside subnet %s of network %s", addr, pfx, nname))
				continue
			case addr == network:
				d.add(at, apath, fmt.Sprintf("address %s is the network address of %s", addr, pfx))
				continue
			case addr == gateway:
				d.add(at, apath, fmt.Sprintf("address %s is the gateway of network %s", addr, nname))
				continue
			case addr == broadcast:
				d.add(at, apath, fmt.Sprintf("address %s is the broadcast address of %s", addr, pfx))
				continue
			}
			if s.Replicas > 1 {
				d.add(at, apath, fmt.Sprintf("a static address cannot be shared by %d replicas; remove it or set replicas: 1", s.Replicas))
				continue
			}
			key := nname + "/" + addr.String()
			if other, dup := taken[key]; dup {
				d.add(at, apath, fmt.Sprintf("address %s on network %s is already used by service %s", addr, nname, other))
				continue
			}
			taken[key] = sname
		}
	}
}

// AutoSubnetBits is the prefix length of a subnet allocated automatically
// (network/subnet.go takes /24s from its pools).
const AutoSubnetBits = 24

// HostAddrs is how many replicas a subnet of the given prefix length can
// address: all but the network, gateway and broadcast addresses.
func HostAddrs(bits int) int {
	if bits > 30 {
		return 0
	}
	return 1<<(32-bits) - 3
}

// checkNetworkCapacity refuses a network whose subnet cannot address every
// replica attached to it: each replica takes one address (a static one
// included), so the starts beyond the last free address could never
// succeed. The error is at the subnet when one is written, else at the
// replicas of the network's largest service.
func (d *decoder) checkNetworkCapacity(p *Project) {
	for _, nname := range d.networkOrder(p) {
		nw := p.Networks[nname]
		need, biggest := 0, ""
		for _, sname := range d.order {
			s := p.Services[sname]
			if _, ok := s.Networks[nname]; !ok {
				continue
			}
			need += s.Replicas
			if biggest == "" || s.Replicas > p.Services[biggest].Replicas {
				biggest = sname
			}
		}
		bits := AutoSubnetBits
		if nw.Subnet != "" {
			bits = netip.MustParsePrefix(nw.Subnet).Bits()
		}
		have := HostAddrs(bits)
		if need <= have {
			continue
		}
		fit := bits
		for fit > 8 && HostAddrs(fit) < need {
			fit--
		}
		msg := fmt.Sprintf("network %s needs %d addresses for its replicas but subnet %s has %d (a /%d less network, gateway and broadcast); use a larger prefix, like /%d (%d addresses), or fewer replicas",
			nname, need, nw.Subnet, have, bits, fit, HostAddrs(fit))
		if nw.Subnet != "" {
			path := "networks." + nname + ".subnet"
			d.add(d.at(path), path, msg)
			continue
		}
		path := "services." + biggest + ".replicas"
		at, ok := d.posOf(path)
		if !ok {
			path = "services." + biggest
			at = d.at(path)
		}
		d.add(at, path, fmt.Sprintf("network %s needs %d addresses for its replicas but its automatic subnet (a /%d) has %d; declare networks.%s.subnet with a larger prefix, like /%d (%d addresses), or use fewer replicas",
			nname, need, bits, have, nname, fit, HostAddrs(fit)))
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// checkDependencies: unknown or self targets, service_healthy without a
// healthcheck, and cycles reported with their full path.
func (d *decoder) checkDependencies(p *Project) {
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	for _, sname := range d.order {
		s := p.Services[sname]
		for _, dep := range sortedKeys(s.DependsOn) {
			path := "services." + sname + ".depends_on." + dep
			target, ok := p.Services[dep]
			switch {
			case dep == sname:
				d.add(d.at(path), "services."+sname+".depends_on", fmt.Sprintf("service %s depends on itself", sname))
			case !ok && !s.DependsOn[dep].IsRequired():
				// Optional and absent: nothing to wait for (Compose warns;
				// the supervisor logs it when it starts the dependent).
			case !ok:
				d.add(d.at(path), "services."+sname+".depends_on", fmt.Sprintf("unknown service %q%s", dep, suggest(dep, names)))
			// An image's config may bring the health check (HEALTHCHECK):
			// that is known only once the image is resolved.
			case s.DependsOn[dep].Condition == ConditionHealthy && target.Healthcheck == nil && target.Image == "":
				at, ok := d.posOf(path + ".condition")
				if !ok {
					at = d.at(path)
				}
				d.add(at, path+".condition", fmt.Sprintf("service %s has no healthcheck, so service_healthy can never be met; add a healthcheck to %s or use service_started", dep, dep))
			}
		}
	}
	d.checkCycles(p)
}

// CheckHealthyDependencies is the service_healthy rule again once images
// are merged (the loader lets a service with an image through, as its
// image may bring HEALTHCHECK): every service_healthy names a service that
// now has a health check.
func CheckHealthyDependencies(p *Project) error {
	var errs []error
	for _, sname := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[sname]
		for _, dep := range sortedKeys(s.DependsOn) {
			target, ok := p.Services[dep]
			if !ok || s.DependsOn[dep].Condition != ConditionHealthy || target.Healthcheck != nil {
				continue
			}
			from := ""
			if target.Image != "" {
				from = " and its image " + target.Image + " brings none (no HEALTHCHECK)"
			}
			errs = append(errs, fmt.Errorf("services.%s.depends_on.%s.condition: service %s has no healthcheck%s, so service_healthy can never be met; add a healthcheck to %s or use service_started",
				sname, dep, dep, from, dep))
		}
	}
	return errors.Join(errs...)
}

// checkCycles finds every dependency cycle once and reports it at the
// depends_on entry of its alphabetically first service.
func (d *decoder) checkCycles(p *Project) {
	const (
		white = iota
		grey
		black
	)
	color := make(map[string]int, len(p.Services))
	var stack []string
	reported := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, dep := range sortedKeys(p.Services[n].DependsOn) {
			if _, ok := p.Services[dep]; !ok || dep == n {
				continue
			}
			switch color[dep] {
			case white:
				visit(dep)
			case grey:
				i := len(stack) - 1
				for stack[i] != dep {
					i--
				}
				cycle := rotateSmallest(stack[i:])
				key := strings.Join(cycle, " ")
				if !reported[key] {
					reported[key] = true
					first, next := cycle[0], cycle[1%len(cycle)]
					path := "services." + first + ".depends_on." + next
					d.add(d.at(path), "services."+first+".depends_on", "dependency cycle: "+strings.Join(append(cycle, first), " -> "))
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range sortedKeys(p.Services) {
		if color[n] == white {
			visit(n)
		}
	}
}

func rotateSmallest(c []string) []string {
	min := 0
	for i := range c {
		if c[i] < c[min] {
			min = i
		}
	}
	out := make([]string, 0, len(c))
	out = append(out, c[min:]...)
	return append(out, c[:min]...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkPorts: the same host address, port and protocol published twice.
// 0.0.0.0 overlaps every specific address, and ranges overlap by any port.
func (d *decoder) checkPorts(p *Project) {
	type claim struct {
		service string
		index   int
		port    Port
	}
	byProto := map[string][]claim{}
	for _, sname := range d.order {
		s := p.Services[sname]
		for i, port := range s.Ports {
			if port.Published == 0 {
				continue
			}
			path := fmt.Sprintf("services.%s.ports[%d]", sname, i)
			if len(s.Networks) == 0 {
				d.add(d.at(path), path, fmt.Sprintf("service %s is on no network (networks: []), so host port %s/%s cannot reach it",
					sname, rangeString(port.Published, port.PublishedEnd), port.Protocol))
			}
			if s.Replicas > 1 {
				d.add(d.at(path), path, fmt.Sprintf("service %s has %d replicas, but only one can bind host port %s/%s; leave out the host port (like %s::%d) or use replicas: 1",
					sname, s.Replicas, rangeString(port.Published, port.PublishedEnd), port.Protocol, port.HostIP, port.Target))
			}
			for _, c := range byProto[port.Protocol] {
				if c.port.Published > port.PublishedEnd || port.Published > c.port.PublishedEnd {
					continue
				}
				if c.port.HostIP != port.HostIP && c.port.HostIP != AnyHostIP && port.HostIP != AnyHostIP {
					continue
				}
				who := "service " + c.service
				if c.service == sname {
					who = fmt.Sprintf("ports[%d] of this service", c.index)
				}
				first := max(port.Published, c.port.Published)
				d.add(d.at(path), path, fmt.Sprintf("host port %d/%s is already published by %s%s", first, port.Protocol, who, overlapNote(port, c.port)))
				break
			}
			byProto[port.Protocol] = append(byProto[port.Protocol], claim{sname, i, port})
		}
	}
}

// overlapNote explains overlaps that are not plain equality.
func overlapNote(a, b Port) string {
	if a.HostIP == b.HostIP {
		return ""
	}
	return fmt.Sprintf(" (on %s, which overlaps %s)", b.HostIP, a.HostIP)
}

// orDeclare is the suggestion when there is one, else the hint to declare
// the name under the top-level section.
func orDeclare(suggestion, section string) string {
	if suggestion != "" {
		return suggestion
	}
	return "; declare it under the top-level " + section + ":"
}
