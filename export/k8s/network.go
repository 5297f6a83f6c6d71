package k8s

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"nucleus/spec"
)

// networkPolicies writes, per project network, an ingress policy that lets
// only the network's members reach each other (as a bridge does on one
// host), plus what published ports let in; and per service that limits
// its egress (an egress allow-list, or only internal networks), an egress
// policy: its peers, the cluster's DNS, and the allowed address blocks.
func (e *exporter) networkPolicies() {
	members := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(e.p.Services)) {
		s := e.p.Services[name]
		if !e.exported(s) {
			continue
		}
		for n := range s.Networks {
			members[n] = append(members[n], name)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(members)) {
		sel := e.netSelector(n)
		name := "network-" + dnsLabel(n)
		e.add("NetworkPolicy", name, NetworkPolicy{
			Head: e.head("networking.k8s.io/v1", "NetworkPolicy", name, e.labels("")),
			Spec: PolicySpec{
				PodSelector: sel,
				PolicyTypes: []string{"Ingress"},
				Ingress:     []PolicyRule{{From: []Peer{{PodSelector: &sel}}}},
			},
		})
	}
	for _, name := range slices.Sorted(maps.Keys(e.p.Services)) {
		s := e.p.Services[name]
		if !e.exported(s) {
			continue
		}
		e.publishedPolicy(s)
		e.egressPolicy(s)
	}
}

func (e *exporter) netSelector(network string) Selector {
	return Selector{MatchLabels: map[string]string{LabelPartOf: dnsLabel(e.p.Name), LabelNetwork + dnsLabel(network): "true"}}
}

// publishedPolicy lets anyone reach the ports a service publishes, as the
// host's port forward does.
func (e *exporter) publishedPolicy(s *spec.Service) {
	var ports []PolicyPort
	for _, p := range s.Ports {
		if p.Published == 0 {
			continue
		}
		pp := PolicyPort{Protocol: strings.ToUpper(p.Protocol), Port: p.Target}
		if p.TargetEnd > p.Target {
			pp.EndPort = p.TargetEnd
		}
		if !slices.Contains(ports, pp) {
			ports = append(ports, pp)
		}
	}
	if len(ports) == 0 {
		return
	}
	e.servicePolicy(s, "published", PolicySpec{PolicyTypes: []string{"Ingress"}, Ingress: []PolicyRule{{Ports: ports}}})
}

// egressPolicy limits what a service reaches when nucleus does: an
// egress allow-list, or networks that are all internal.
func (e *exporter) egressPolicy(s *spec.Service) {
	internal := len(s.Networks) > 0
	for n := range s.Networks {
		if nw := e.p.Networks[n]; nw == nil || !nw.Internal {
			internal = false
		}
	}
	if s.Egress == nil && !internal {
		return
	}
	at := "services." + s.Name + ".egress.allow"
	var rules []PolicyRule
	// Peers: every member of the service's networks.
	var peers []Peer
	for _, n := range slices.Sorted(maps.Keys(s.Networks)) {
		sel := e.netSelector(n)
		peers = append(peers, Peer{PodSelector: &sel})
	}
	if len(peers) > 0 {
		rules = append(rules, PolicyRule{To: peers})
	}
	// The cluster's DNS: the project's names are Services now.
	rules = append(rules, PolicyRule{
		To: []Peer{{
			NamespaceSelector: &Selector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
			PodSelector:       &Selector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}},
		Ports: []PolicyPort{{Protocol: "UDP", Port: 53}, {Protocol: "TCP", Port: 53}},
	})
	if s.Egress != nil && !internal {
		for i, r := range s.Egress.Allow {
			if r.Domain != "" {
				e.warn(fmt.Sprintf("%s[%d]", at, i), "domain rule %s cannot be expressed in a NetworkPolicy (it matches addresses only): not exported, so the service cannot reach it; route it through an egress gateway, use Cilium's toFQDNs policies, or allow the addresses it resolves to as CIDRs", r.Domain)
				continue
			}
			pfx, err := netip.ParsePrefix(r.CIDR)
			if err != nil {
				e.warn(fmt.Sprintf("%s[%d]", at, i), "cidr %q: %v; not exported", r.CIDR, err)
				continue
			}
			rule := PolicyRule{To: []Peer{{IPBlock: &IPBlock{CIDR: pfx.Masked().String()}}}}
			if r.PortStart != 0 {
				protos := []string{"TCP", "UDP"}
				if r.Protocol != "" {
					protos = []string{strings.ToUpper(r.Protocol)}
				}
				for _, proto := range protos {
					pp := PolicyPort{Protocol: proto, Port: r.PortStart}
					if r.PortEnd > r.PortStart {
						pp.EndPort = r.PortEnd
					}
					rule.Ports = append(rule.Ports, pp)
				}
			}
			rules = append(rules, rule)
		}
	} else if s.Egress != nil {
		e.warn(at, "the service is only on internal networks: its egress allow-list reaches nothing on one host, and nothing here either")
	}
	e.servicePolicy(s, "egress", PolicySpec{PolicyTypes: []string{"Egress"}, Egress: rules})
}

// servicePolicy adds the NetworkPolicy SERVICE-SUFFIX selecting s's pods.
func (e *exporter) servicePolicy(s *spec.Service, suffix string, ps PolicySpec) {
	svc := dnsLabel(s.Name)
	ps.PodSelector = Selector{MatchLabels: e.selector(svc)}
	name := svc + "-" + suffix
	e.add("NetworkPolicy", name, NetworkPolicy{Head: e.head("networking.k8s.io/v1", "NetworkPolicy", name, e.labels(svc)), Spec: ps})
}
