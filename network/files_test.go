package network

import (
	"strings"
	"testing"

	"nucleus/spec"
)

func TestResolvConfAndHostsFile(t *testing.T) {
	e := newEnv(t)
	a := e.network("a", nil)
	b := e.network("b", nil)
	svc := &spec.Service{Name: "web", Hostname: "web-host",
		Networks:   map[string]*spec.ServiceNetwork{"a": {}, "b": {}},
		ExtraHosts: []spec.ExtraHost{{Host: "db.example", IP: "192.0.2.7"}}}

	rc := string(e.m.ResolvConf(e.project, svc))
	if !strings.Contains(rc, "nameserver "+a.Gateway+"\nnameserver "+b.Gateway+"\n") {
		t.Errorf("resolv.conf should list both gateways in network order:\n%s", rc)
	}
	// Generated before the sandbox is attached: the address is reserved
	// here and Attach uses it.
	before := string(e.m.HostsFile(e.project, svc, 1))
	if !strings.Contains(before, "192.0.2.7\tdb.example\n") {
		t.Errorf("hosts lacks extra_hosts:\n%s", before)
	}
	pid := sandbox(t)
	ai := e.attach(Attachment{Network: "a", Service: "web", Pid: pid})
	if !strings.Contains(before, ai.IP+"\tweb-host\n") {
		t.Errorf("hosts generated before attach should map web-host to %s:\n%s", ai.IP, before)
	}
	bi := e.attach(Attachment{Network: "b", Service: "web", Pid: pid})
	if ai.Interface != "eth0" || bi.Interface != "eth1" {
		t.Errorf("interfaces %s, %s; want eth0, eth1", ai.Interface, bi.Interface)
	}
	if h := string(e.m.HostsFile(e.project, svc, 1)); !strings.Contains(h, ai.IP+"\tweb-host\n") {
		t.Errorf("hosts after attach should map web-host to %s:\n%s", ai.IP, h)
	}
	// Without networks: the service's own dns: servers, and 127.0.1.1.
	lone := &spec.Service{Name: "x", Hostname: "x", DNS: []string{"192.0.2.53"}}
	if rc := string(e.m.ResolvConf(e.project, lone)); !strings.Contains(rc, "nameserver 192.0.2.53\n") {
		t.Errorf("resolv.conf without networks:\n%s", rc)
	}
	if h := string(e.m.HostsFile(e.project, lone, 1)); !strings.Contains(h, "127.0.1.1\tx\n") {
		t.Errorf("hosts without networks:\n%s", h)
	}
}
