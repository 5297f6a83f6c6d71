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
	// Before the sandbox has an address its hostname maps to 127.0.1.1.
	if h := string(e.m.HostsFile(e.project, svc, 1)); !strings.Contains(h, "127.0.1.1\tweb-host\n") || !strings.Contains(h, "192.0.2.7\tdb.example\n") {
		t.Errorf("hosts before attach:\n%s", h)
	}
	pid := sandbox(t)
	ai := e.attach(Attachment{Network: "a", Service: "web", Pid: pid})
	bi := e.attach(Attachment{Network: "b", Service: "web", Pid: pid})
	if ai.Interface != "eth0" || bi.Interface != "eth1" {
		t.Errorf("interfaces %s, %s; want eth0, eth1", ai.Interface, bi.Interface)
	}
	if h := string(e.m.HostsFile(e.project, svc, 1)); !strings.Contains(h, ai.IP+"\tweb-host\n") {
		t.Errorf("hosts after attach should map web-host to %s:\n%s", ai.IP, h)
	}
	// Without networks: the service's own dns: servers.
	lone := &spec.Service{Name: "x", DNS: []string{"192.0.2.53"}}
	if rc := string(e.m.ResolvConf(e.project, lone)); !strings.Contains(rc, "nameserver 192.0.2.53\n") {
		t.Errorf("resolv.conf without networks:\n%s", rc)
	}
}
