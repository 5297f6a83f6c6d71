package host

import (
	"reflect"
	"testing"

	"nucleus/network"
	"nucleus/reconcile"
	"nucleus/spec"
)

// The one conversion of a service into the network package's request:
// ports on the first network by name only, egress rules field by field,
// absent egress stays unrestricted.
func TestAttachmentConvertsTheService(t *testing.T) {
	s := &spec.Service{Name: "web",
		Networks: map[string]*spec.ServiceNetwork{"front": {Aliases: []string{"www"}, IPv4Address: "10.89.0.9"}, "back": {}},
		Ports:    []spec.Port{{Target: 80, Published: 8080, HostIP: "127.0.0.1", Protocol: "tcp"}},
		Egress:   &spec.Egress{Allow: []spec.EgressRule{{Domain: "*.example.com", PortStart: 443, PortEnd: 443, Protocol: "tcp"}}},
		DNS:      []string{"192.0.2.53"}}
	back := attachment(reconcile.AttachRequest{Project: "p", Network: "back", Service: s, Replica: 2, PID: 7})
	want := network.Attachment{Project: "p", Network: "back", Service: "web", Replica: 2, PID: 7,
		Ports:  []network.Port{{Target: 80, Published: 8080, HostIP: "127.0.0.1", Protocol: "tcp"}},
		Egress: &network.Egress{Allow: []network.EgressRule{{Domain: "*.example.com", PortStart: 443, PortEnd: 443, Protocol: "tcp"}}},
		DNS:    []string{"192.0.2.53"}}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("on back:\n%+v\nwant\n%+v", back, want)
	}
	front := attachment(reconcile.AttachRequest{Project: "p", Network: "front", Service: s, Replica: 2, PID: 7})
	if front.Ports != nil || front.IPv4 != "10.89.0.9" || !reflect.DeepEqual(front.Aliases, []string{"www"}) {
		t.Errorf("on front (not first by name): %+v, want no ports, its address and alias", front)
	}
	s.Egress = nil
	if a := attachment(reconcile.AttachRequest{Network: "back", Service: s}); a.Egress != nil {
		t.Errorf("no egress: %+v, want nil (unrestricted)", a.Egress)
	}
	s.Egress = &spec.Egress{Allow: []spec.EgressRule{}}
	if a := attachment(reconcile.AttachRequest{Network: "back", Service: s}); a.Egress == nil || len(a.Egress.Allow) != 0 {
		t.Errorf("egress with nothing allowed: %+v, want an empty allow list", a.Egress)
	}
}
