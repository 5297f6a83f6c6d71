package network

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/network/pasta"
	"nucleus/spec"
)

func requirePasta(t *testing.T) {
	t.Helper()
	testutil.RequireBinary(t, pasta.Binary, "make deps installs it (Debian package passt)")
}

// pastas lists the pasta processes whose command line names root.
func pastas(root string) map[int]string { return helperProcs(pasta.Binary, root) }

// The per-sandbox shape through pasta (userspace_backend: pasta):
// published port on 127.0.0.1, the way out to a namespace the test made,
// a port change in place (pasta restarted), and nothing left after detach.
func TestUserspacePerSandboxPasta(t *testing.T) {
	requirePasta(t)
	e := singleEnv(t)
	o := newOutside(t)
	serveEcho(t, o.pid, o.addr+":8080", "outside:")
	e.usNetwork("solo", func(n *Config) { n.Subnet = "10.0.2.0/24"; n.UserspaceBackend = spec.UserspacePasta })
	sb := rootlessSandbox(t)
	p := testutil.FreePort(t)
	ai := e.attach(Attachment{Network: "solo", Service: "web", PID: sb, Ports: []Port{{Target: 80, Published: p, HostIP: "127.0.0.1", Protocol: "tcp"}}})
	if ai.IP != "10.0.2.100" || ai.Interface != "tap0" {
		t.Errorf("attach info %+v, want 10.0.2.100 on tap0", ai)
	}
	ps := pastas(e.m.root.Run)
	if len(ps) != 1 || len(slirpCmdlines(e.m.root.Run)) != 0 {
		t.Fatalf("pasta processes %v, slirp4netns %q: want one pasta, no slirp4netns", ps, slirpCmdlines(e.m.root.Run))
	}
	for _, c := range ps {
		for _, want := range []string{"--no-map-gw", "-T none", "-U none", "-u none", fmt.Sprintf("-t 127.0.0.1/%d:80", p), fmt.Sprintf("--userns /proc/%d/ns/user", sb)} {
			if !strings.Contains(c, want) {
				t.Errorf("pasta command line %q lacks %q", c, want)
			}
		}
	}
	// A pasta left running would be reported by the leak check.
	if left, err := LeakCheck(e.m.root); err != nil || !strings.Contains(strings.Join(left, "\n"), "userspace helper process") {
		t.Errorf("leak check while pasta runs: %q %v, want its process named", left, err)
	}
	serveEcho(t, sb, ":80", "web:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "web:")
	mustTalk(t, sb, o.addr+":8080", "outside:")
	if ns, err := e.m.Nameservers(e.project, []string{"solo"}); err != nil || len(ns) != 1 || ns[0] != "10.0.2.3" {
		t.Errorf("nameservers %q %v: want pasta's DNS forwarder 10.0.2.3", ns, err)
	}

	p2 := testutil.FreePort(t)
	if err := e.m.Update(e.ctx, Attachment{Project: e.project, Network: "solo", Service: "web", PID: sb, Ports: []Port{{Target: 80, Published: p2, HostIP: "127.0.0.1", Protocol: "tcp"}}}); err != nil {
		t.Fatal(err)
	}
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p2), "web:")
	// The old port no longer reaches the sandbox (refused, or reset by a
	// listener the killed pasta had not closed yet).
	if got, err := talk(0, fmt.Sprintf("127.0.0.1:%d", p), 2*time.Second); err == nil {
		t.Errorf("old port %d still answers after the change: %q", p, got)
	}
	if ps := pastas(e.m.root.Run); len(ps) != 1 {
		t.Errorf("pasta processes after the port change: %v, want one", ps)
	}
	if err := e.m.Detach(e.ctx, e.project, "solo", "web", 1); err != nil {
		t.Fatal(err)
	}
	if ps := pastas(e.m.root.Run); len(ps) != 0 {
		t.Errorf("pasta still running after detach: %v", ps)
	}
	if _, err := os.Stat(filepath.Join(e.m.root.Run, "userspace-net")); !os.IsNotExist(err) {
		t.Errorf("userspace-net runtime dir left after detach: %v", err)
	}
}

// The shared hub with pasta as its way out (userspace_backend: pasta):
// names and east-west on the hub's bridge, a port published on 127.0.0.1
// (pasta's loopback path, DNAT in the hub), moved in place, the way out to
// a namespace the test made, egress rules in the hub, one pasta and no
// slirp4netns, nothing left after the network is removed.
func TestUserspaceHubPasta(t *testing.T) {
	requirePasta(t)
	requireSlirp4netns(t)
	o := newOutside(t)
	serveEcho(t, o.pid, o.addr+":8080", "a:")
	serveEcho(t, o.pid, o.addr2+":8080", "b:")
	e := newEnv(t)
	ni := e.usNetwork("hub", func(n *Config) { n.UserspaceBackend = spec.UserspacePasta })
	web, db := sandbox(t), sandbox(t)
	p := testutil.FreePort(t)
	e.attach(Attachment{Network: "hub", Service: "web", PID: web,
		Ports:  []Port{{Target: 80, Published: p, HostIP: "127.0.0.1", Protocol: "tcp"}},
		Egress: &Egress{Allow: []EgressRule{{CIDR: o.addr + "/32"}}}})
	dbi := e.attach(Attachment{Network: "hub", Service: "db", PID: db})
	serveEcho(t, web, ":80", "web:")
	serveEcho(t, db, ":5432", "db:")
	if ips, err := resolve(web, ni.Gateway, "db"); err != nil || len(ips) != 1 || ips[0] != dbi.IP {
		t.Errorf("resolve db from web: %v %v, want [%s]", ips, err, dbi.IP)
	}
	mustTalk(t, web, dbi.IP+":5432", "db:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "web:")
	mustTalk(t, web, o.addr+":8080", "a:")  // allowed
	refusedQuickly(t, web, o.addr2+":8080") // refused in the hub
	mustTalk(t, db, o.addr2+":8080", "b:")  // db has no rules
	if n, err := e.m.EgressDenied(e.project, "web"); err != nil || n == 0 {
		t.Errorf("EgressDenied = %d, %v; want the refused attempt counted", n, err)
	}
	ps := pastas(e.m.root.Run)
	if len(ps) != 1 || len(slirpCmdlines(e.m.root.Run)) != 0 {
		t.Fatalf("pasta processes %v, slirp4netns %q: want one pasta, no slirp4netns", ps, slirpCmdlines(e.m.root.Run))
	}
	for _, c := range ps {
		for _, want := range []string{"--no-map-gw", "-T none", "-U none", fmt.Sprintf("-t 127.0.0.1/%d:%d", p, p), "--netns " + e.m.root.Run} {
			if !strings.Contains(c, want) {
				t.Errorf("pasta command line %q lacks %q", c, want)
			}
		}
	}

	p2 := testutil.FreePort(t)
	if err := e.m.Update(e.ctx, Attachment{Project: e.project, Network: "hub", Service: "web", PID: web,
		Ports:  []Port{{Target: 80, Published: p2, HostIP: "127.0.0.1", Protocol: "tcp"}},
		Egress: &Egress{Allow: []EgressRule{{CIDR: o.addr + "/32"}}}}); err != nil {
		t.Fatal(err)
	}
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p2), "web:")
	if got, err := talk(0, fmt.Sprintf("127.0.0.1:%d", p), 2*time.Second); err == nil {
		t.Errorf("old port %d still answers after the change: %q", p, got)
	}
	mustTalk(t, db, o.addr2+":8080", "b:") // the restarted pasta is the way out
	if err := e.m.RemoveProject(e.ctx, e.project); err != nil {
		t.Fatal(err)
	}
	if ps := pastas(e.m.root.Run); len(ps) != 0 {
		t.Errorf("pasta still running after the network's removal: %v", ps)
	}
}

// userspace_backend auto picks slirp4netns, the faster here (bench/net.sh),
// when both are installed.
func TestUserspaceAutoPicksSlirp(t *testing.T) {
	requirePasta(t)
	e := singleEnv(t)
	e.usNetwork("solo", func(n *Config) { n.Subnet = "10.0.2.0/24" })
	e.attach(Attachment{Network: "solo", Service: "web", PID: rootlessSandbox(t)})
	if ps, ss := pastas(e.m.root.Run), slirpCmdlines(e.m.root.Run); len(ps) != 0 || len(ss) != 1 {
		t.Errorf("auto: pasta %v, slirp4netns %q; want one slirp4netns", ps, ss)
	}
}

// A changed userspace_backend swaps the hub's way out in place: the
// sandbox keeps its address and name, the published port answers through
// the new helper, and the old one is gone.
func TestUserspaceHubSwitchesBackend(t *testing.T) {
	requirePasta(t)
	requireSlirp4netns(t)
	o := newOutside(t)
	serveEcho(t, o.pid, o.addr+":8080", "a:")
	e := newEnv(t)
	e.usNetwork("hub", func(n *Config) { n.UserspaceBackend = spec.UserspaceSlirp })
	web := sandbox(t)
	p := testutil.FreePort(t)
	e.attach(Attachment{Network: "hub", Service: "web", PID: web, Ports: []Port{{Target: 80, Published: p, HostIP: "127.0.0.1", Protocol: "tcp"}}})
	serveEcho(t, web, ":80", "web:")
	for _, h := range []string{spec.UserspacePasta, spec.UserspaceSlirp} {
		e.usNetwork("hub", func(n *Config) { n.UserspaceBackend = h })
		ps, ss := pastas(e.m.root.Run), slirpCmdlines(e.m.root.Run)
		if want := map[string][2]int{spec.UserspacePasta: {1, 0}, spec.UserspaceSlirp: {0, 1}}[h]; len(ps) != want[0] || len(ss) != want[1] {
			t.Errorf("after switching to %s: pasta %v, slirp4netns %q; want one %s only", h, ps, ss, h)
		}
		mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "web:")
		mustTalk(t, web, o.addr+":8080", "a:")
	}
}

// A UDP port published on 127.0.0.1 answers through the hub's pasta (its
// loopback path and the hub's output DNAT), which slirp4netns cannot do
// with --disable-host-loopback.
func TestUserspaceHubPastaUDPLoopback(t *testing.T) {
	requirePasta(t)
	e := newEnv(t)
	e.usNetwork("hub", func(n *Config) { n.UserspaceBackend = spec.UserspacePasta })
	web := sandbox(t)
	p := testutil.FreePort(t)
	e.attach(Attachment{Network: "hub", Service: "web", PID: web, Ports: []Port{{Target: 9053, Published: p, HostIP: "127.0.0.1", Protocol: "udp"}}})
	serveUDPEcho(t, web, ":9053", "udp:")
	if got, err := talkUDP(0, fmt.Sprintf("127.0.0.1:%d", p), 3*time.Second); err != nil || got != "udp:hi" {
		t.Errorf("UDP from 127.0.0.1 through published port %d: %q %v, want \"udp:hi\"", p, got, err)
	}
}
