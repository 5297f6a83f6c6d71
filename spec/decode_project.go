package spec

import (
	"maps"
	"net/netip"
	"runtime"
	"sync"
)

var topKeys = []string{"name", "networks", "volumes", "services", "secrets", "configs"}

// DefaultNetwork is the network services join when they name none.
const DefaultNetwork = "default"

// project decodes the top level. Networks and volumes come first so that
// services can be checked against them.
func (d *decoder) project(root *node, p *Project) {
	d.proj = p
	d.fields(root, "", topKeys, func(string, *node, string) {})
	p.Networks = map[string]*Network{}
	p.Volumes = map[string]*Volume{}
	p.Services = map[string]*Service{}
	nets := root.get("networks")
	if nets != nil {
		d.networks(nets, p)
	}
	if v := root.get("volumes"); v != nil {
		d.volumes(v, p)
	}
	// Secrets and configs before services, which name them.
	if n := root.get("secrets"); n != nil {
		p.Secrets = d.fileObjects(n, secretKind)
	}
	if n := root.get("configs"); n != nil {
		p.Configs = d.fileObjects(n, configKind)
	}
	if s := root.get("services"); s != nil {
		d.services(s, p)
	}
	// The "default" network exists whenever a service uses it without it
	// being declared (as in compose): a service that names no networks
	// joins it. When every service has `networks: []` it is not made.
	for _, s := range p.Services {
		if _, ok := s.Networks[DefaultNetwork]; ok {
			d.implicitN = true
		}
	}
	if _, ok := p.Networks[DefaultNetwork]; !ok && d.implicitN {
		p.Networks[DefaultNetwork] = &Network{Name: DefaultNetwork, NAT: NATAuto}
	}
}

func (d *decoder) networks(n *node, p *Project) {
	if d.sectionMap(n, "networks", "network") {
		d.named(n, 0, len(n.keys), "networks", "network", func(name string, v *node, path string) {
			p.Networks[name] = d.network(name, v, path)
		})
	}
}

// sectionMap reports whether a top-level section (networks, volumes,
// services) is a mapping to decode; anything but a mapping or null is an error.
func (d *decoder) sectionMap(n *node, section, what string) bool {
	if n.kind == kindMap {
		return true
	}
	if n.kind != kindNull {
		d.want(n, section, "a mapping of "+what+" names")
	}
	return false
}

// named calls fn for entries lo..hi-1 of a section's mapping whose names are
// valid, skipping x- extension keys; invalid names are reported.
func (d *decoder) named(n *node, lo, hi int, section, what string, fn func(name string, v *node, path string)) {
	for i := lo; i < hi; i++ {
		k := n.keys[i]
		if len(k.value) > 2 && k.value[:2] == "x-" {
			continue
		}
		path := section + "." + k.value
		if d.checkName(k, path, what) {
			fn(k.value, n.vals[i], path)
		}
	}
}

var networkKeys = []string{"subnet", "nat", "userspace_backend", "internal", "dns", "labels"}

func (d *decoder) network(name string, n *node, path string) *Network {
	nw := &Network{Name: name, NAT: NATAuto}
	d.fields(n, path, networkKeys, func(k string, v *node, p string) {
		switch k {
		case "subnet":
			s, ok := d.str(v, p)
			if !ok {
				return
			}
			pfx, err := netip.ParsePrefix(s)
			switch {
			case err != nil || !pfx.Addr().Is4():
				d.errorf(v, p, "invalid subnet %q; expected an IPv4 CIDR like 10.89.1.0/24", s)
			case pfx.Masked() != pfx:
				d.errorf(v, p, "subnet %s has host bits set; did you mean %s?", s, pfx.Masked())
			case pfx.Bits() > 30:
				d.errorf(v, p, "subnet %s is too small; it needs room for a gateway and services (at most /30)", s)
			case pfx.Bits() < 8:
				d.errorf(v, p, "subnet %s is too large (at least /8)", s)
			default:
				nw.Subnet = pfx.String()
			}
		case "nat":
			set(&nw.NAT)(d.oneOf(v, p, NATAuto, NATKernel, NATUserspace))
		case "userspace_backend":
			set(&nw.UserspaceBackend)(d.oneOf(v, p, UserspaceAuto, UserspacePasta, UserspaceSlirp))
		case "internal":
			set(&nw.Internal)(d.boolean(v, p))
		case "dns":
			nw.DNS = d.ipList(v, p)
		case "labels":
			nw.Labels = d.labels(v, p)
		}
	})
	return nw
}

// ipList decodes one address or a list of addresses (resolvers).
func (d *decoder) ipList(n *node, path string) []string {
	var out []string
	d.strEach(n, path, true, func(s string, it *node, p string) {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			d.errorf(it, p, "invalid IP address %q", s)
			return
		}
		out = append(out, a.Unmap().String())
	})
	return out
}

var volumeKeys = []string{"type", "size", "labels"}

func (d *decoder) volumes(n *node, p *Project) {
	if !d.sectionMap(n, "volumes", "volume") {
		return
	}
	d.named(n, 0, len(n.keys), "volumes", "volume", func(name string, vn *node, path string) {
		vol := &Volume{Name: name, Type: VolumeTypeDir}
		var sizeNode *node
		d.fields(vn, path, volumeKeys, func(key string, v *node, pp string) {
			switch key {
			case "type":
				set(&vol.Type)(d.oneOf(v, pp, VolumeTypeDir, VolumeTypeTmpfs))
			case "size":
				if sz, ok := d.size(v, pp); ok {
					vol.Size, sizeNode = sz, v
				}
			case "labels":
				vol.Labels = d.labels(v, pp)
			}
		})
		if sizeNode != nil && vol.Type != VolumeTypeTmpfs {
			d.errorf(sizeNode, path+".size", "size applies only to tmpfs volumes; add type: tmpfs")
		}
		p.Volumes[name] = vol
	})
}

func (d *decoder) services(n *node, p *Project) {
	if !d.sectionMap(n, "services", "service") {
		return
	}
	d.order = make([]string, 0, len(n.keys))
	workers := runtime.GOMAXPROCS(0)
	if len(n.keys) < parallelServices || workers < 2 {
		d.serviceRange(n, 0, len(n.keys), p)
		return
	}
	// Large projects: decode ranges of services on separate decoders, then
	// merge their results in file order. Decoding only reads shared state
	// (project directory, variables, declared volumes).
	parts := make([]*decoder, workers)
	size := (len(n.keys) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range parts {
		lo, hi := w*size, min((w+1)*size, len(n.keys))
		sub := &decoder{dir: d.dir, lookup: d.lookup, proj: d.proj,
			read: map[string][]byte{}, tried: map[string]bool{},
			envCache: map[string]*envFileResult{}, seccomp: map[string]*seccompResult{},
			decoded: make(map[string]*Service, hi-lo)}
		parts[w] = sub
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub.serviceRange(n, lo, hi, nil)
		}()
	}
	wg.Wait()
	for _, sub := range parts {
		d.list = append(d.list, sub.list...)
		maps.Copy(d.read, sub.read)
		for f := range sub.tried {
			d.tried[f] = true
		}
		for _, name := range sub.order {
			p.Services[name] = sub.decoded[name]
		}
		d.order = append(d.order, sub.order...)
		d.implicitN = d.implicitN || sub.implicitN
	}
}

// parallelServices is the project size from which services are decoded in
// parallel.
const parallelServices = 200

// serviceRange decodes services lo..hi-1 into p.Services, or into
// d.decoded when p is nil.
func (d *decoder) serviceRange(n *node, lo, hi int, p *Project) {
	d.named(n, lo, hi, "services", "service", func(name string, v *node, path string) {
		d.order = append(d.order, name)
		s := d.service(name, v, path)
		if p != nil {
			p.Services[name] = s
		} else {
			d.decoded[name] = s
		}
	})
}
