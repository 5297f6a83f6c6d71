package network

import (
	"net"
	"strings"
	"testing"

	"nucleus/spec"
)

// host-gateway on a kernel-NAT network is the bridge's gateway, and a
// sandbox reaches a host service there; an internal network and no network
// are refused with the reason, as is a userspace network (slirp4netns
// with --disable-host-loopback leads nowhere on the host).
func TestHostGateway(t *testing.T) {
	e := newEnv(t)
	ni := e.network("front", nil)
	e.network("back", func(c *Config) { c.Internal = true })
	e.network("user", func(c *Config) { c.NAT = spec.NATUserspace })
	gw, err := e.m.HostGateway(e.project, []string{"front"})
	if err != nil || gw != ni.Gateway {
		t.Fatalf("HostGateway = %q, %v; want the gateway %s", gw, err, ni.Gateway)
	}
	web := sandbox(t)
	e.attach(Attachment{Network: "front", Service: "web", PID: web})
	addr := serveEcho(t, 0, net.JoinHostPort(gw, "0"), "host:")
	mustTalk(t, web, addr.String(), "host:")

	extra, err := WithHostGateway([]spec.ExtraHost{{Host: "a", IP: "192.0.2.1"}, {Host: "host.docker.internal", IP: spec.HostGateway}},
		func() (string, error) { return e.m.HostGateway(e.project, []string{"front"}) })
	if err != nil || extra[1].IP != gw || extra[0].IP != "192.0.2.1" {
		t.Errorf("WithHostGateway = %v, %v", extra, err)
	}
	if !strings.Contains(string(HostsFile(Hosts{Extra: extra})), gw+"\thost.docker.internal\n") {
		t.Errorf("hosts file lacks %s host.docker.internal", gw)
	}
	for nets, want := range map[string]string{"back": "network back is internal", "": "needs a network", "user": "network user uses userspace NAT"} {
		var list []string
		if nets != "" {
			list = []string{nets}
		}
		if _, err := e.m.HostGateway(e.project, list); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("HostGateway(%v) error %v; want %q", list, err, want)
		}
	}
}
