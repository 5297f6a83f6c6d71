package network

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/network/pasta"
	"nucleus/network/slirp"
	"nucleus/spec"
)

// rootlessBench is one rootless (per-sandbox) userspace network with a
// server sandbox publishing 5201 on 0.0.0.0 and a client sandbox: what a
// nucleus run without root builds, with the helper picked.
type rootlessBench struct {
	helper   string
	srv, cli int
	pub      int
}

func newRootlessBench(b *testing.B, helper string) (*rootlessBench, bool) {
	bin := helper
	if _, err := exec.LookPath(bin); err != nil {
		b.Logf("rootless %s not measured: %v", helper, err)
		return nil, false
	}
	e := newEnv(b)
	e.m.userspace = &userspaceBackend{root: e.m.root, slirps: map[string]*slirp.Network{}, forceSandboxMode: true}
	if _, err := e.m.EnsureNetwork(e.ctx, e.project, &Config{Name: "rl", NAT: spec.NATUserspace, UserspaceBackend: helper}); err != nil {
		b.Logf("rootless %s not measured: %v", helper, err)
		return nil, false
	}
	r := &rootlessBench{helper: helper, srv: rootlessSandbox(b), cli: rootlessSandbox(b), pub: testutil.FreePort(b)}
	for _, a := range []Attachment{
		{Project: e.project, Network: "rl", Service: "srv", PID: r.srv, Ports: []Port{{Target: 5201, Published: r.pub, HostIP: "0.0.0.0", Protocol: "tcp"}}},
		{Project: e.project, Network: "rl", Service: "cli", PID: r.cli},
	} {
		if _, err := e.m.Attach(e.ctx, a); err != nil {
			b.Logf("rootless %s not measured: %v", helper, err)
			return nil, false
		}
	}
	return r, true
}

// barePasta starts pasta by hand for a fresh rootless sandbox with 5201
// published on 127.0.0.1 (the anchor "pasta alone"); returns the sandbox
// and the host port.
func barePasta(b *testing.B) (int, int, bool) {
	if !pasta.Available() {
		return 0, 0, false
	}
	sb := rootlessSandbox(b)
	p := testutil.FreePort(b)
	dir := b.TempDir()
	cmd := exec.Command(pasta.Binary, "--config-net", "-4", "--no-map-gw", "-q", "-T", "none", "-U", "none", "-u", "none",
		"-t", fmt.Sprintf("127.0.0.1/%d:5201", p), "-P", filepath.Join(dir, "pid"), "--runas", "0:0",
		"--userns", fmt.Sprintf("/proc/%d/ns/user", sb), "--netns", fmt.Sprintf("/proc/%d/ns/net", sb))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Logf("pasta alone not measured: %v: %s", err, out)
		return 0, 0, false
	}
	pb, _ := os.ReadFile(filepath.Join(dir, "pid"))
	if pid, err := strconv.Atoi(strings.TrimSpace(string(pb))); err == nil {
		b.Cleanup(func() { killOrphanSlirp(pid, dir) })
	}
	return sb, p, true
}

// rootlessRounds measures, per round, every rootless row into keep:
// host loopback -> published port, sandbox -> sandbox of the same network
// (through the published port on the outside link's host address: the
// per-sandbox shape has no shared bridge), sandbox -> a namespace outside
// (egress), and the same through pasta started by hand.
func rootlessRounds(b *testing.B, rbs []*rootlessBench, o *outside, bare, barePort int, keep func(string, float64)) {
	for _, r := range rbs {
		keep("rootless-"+r.helper+"-host", iperf(b, r.srv, 5201, 0, "127.0.0.1", r.pub))
		keep("rootless-"+r.helper+"-eastwest", iperf(b, r.srv, 5201, r.cli, o.hostAddr, r.pub))
		keep("rootless-"+r.helper+"-egress", iperf(b, o.pid, 5203, r.cli, o.addr, 5203))
	}
	if bare != 0 {
		keep("pasta-alone-host", iperf(b, bare, 5201, 0, "127.0.0.1", barePort))
		keep("pasta-alone-egress", iperf(b, o.pid, 5203, bare, o.addr, 5203))
	}
}
