package security

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// The kernel-NAT side of finding 4: one service answering "web" on 8080
// (published on the host's 127.0.0.1, PUB) and "unpublished" on 9999
// (not published), with busybox nc as a persistent server (-ll -e).
const kernelTargetYAML = `name: PROJECT
networks:
  n: {nat: kernel}
services:
  web:
    command: ["/bin/busybox", "sh", "-c", "/bin/busybox nc -ll -p 9999 -e /bin/busybox echo unpublished & exec /bin/busybox nc -ll -p 8080 -e /bin/busybox echo web"]
    networks: [n]
    ports: [PORTS]
    volumes: ["PROBE:/probe:ro"]
    stop_grace_period: 1s
`

// The attacker: a service on a userspace network (hub and slirp4netns).
const userspaceAttackerYAML = `name: PROJECT
networks:
  u: {nat: userspace}
services:
  cli:
    command: ["/bin/busybox", "sleep", "600"]
    networks: [u]
    volumes: ["PROBE:/probe:ro"]
    stop_grace_period: 1s
`

// hostTalk connects from the test (root on the host) to addr and reads
// what the server says, retrying until want arrives or 20 s have passed
// (the listeners start with the service, after `up --wait` returns).
func hostTalk(t *testing.T, addr, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for {
		c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			b, rerr := io.ReadAll(c)
			c.Close()
			if strings.TrimSpace(string(b)) == want {
				return
			}
			last = fmt.Sprintf("read %q (%v)", b, rerr)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("control from the host: %s does not answer %q: %s", addr, want, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestFindingUserspaceReachesKernelNet (finding 4): a service on a
// userspace network, whose connections slirp4netns opens from the host's
// own sockets, tries to reach a kernel-NAT sandbox of another project in
// another state root: on its unpublished port, on the published port's
// target at the sandbox address, and through the kernel network's
// resolver. All are refused; the controls show the listeners are up and
// the path works: root on the host reaches the unpublished port at the
// sandbox's address and the published port on 127.0.0.1, and the attacker
// itself reaches a port published on the kernel network's gateway (a host
// address). Traffic goes only to loopback and to addresses of the
// networks nucleus created (never slirp4netns's DNS or gateway).
func TestFindingUserspaceReachesKernelNet(t *testing.T) {
	testutil.Require(t, testutil.FileExists("/usr/bin/slirp4netns"), "slirp4netns installed")
	k, u := newEnv(t), newEnv(t) // two state roots
	pub, pub2 := testutil.FreePort(t), testutil.FreePort(t)
	kyaml := func(ports string) string {
		return strings.NewReplacer("PROJECT", "seck"+testutil.RandHex(3), "PROBE", probeDir, "PORTS", ports).Replace(kernelTargetYAML)
	}
	ports := fmt.Sprintf(`"127.0.0.1:%d:8080"`, pub)
	kp := k.up(kyaml(ports))
	web := kp.info("web")

	// Controls from the host (root), before the attack.
	hostTalk(t, web.ip+":9999", "unpublished")
	hostTalk(t, fmt.Sprintf("127.0.0.1:%d", pub), "web")

	// Publish 8080 also on the kernel network's gateway, a host address the
	// attacker reaches through slirp4netns (ports change live).
	b, err := os.ReadFile(kp.file)
	if err != nil {
		t.Fatal(err)
	}
	ports2 := fmt.Sprintf(`%s, "%s:%d:8080"`, ports, web.gw, pub2)
	testutil.WriteFile(t, kp.file, strings.Replace(string(b), ports, ports2, 1))
	if r := k.nucleus(nil, "-f", kp.file, "up", "--wait", "--wait-timeout", "60s"); r.code != 0 {
		t.Fatalf("nucleus up (port on the gateway): exit %d: %s%s", r.code, r.out, r.err)
	}
	gwPub := fmt.Sprintf("%s:%d", web.gw, pub2)
	hostTalk(t, gwPub, "web")

	us := u.up(strings.NewReplacer("PROJECT", "secu"+testutil.RandHex(3), "PROBE", probeDir).Replace(userspaceAttackerYAML))
	cli := us.info("cli")
	t.Logf("kernel-NAT web %+v (published 127.0.0.1:%d, %s), userspace cli %+v", web, pub, gwPub, cli)
	if _, subnet, err := net.ParseCIDR(cli.cidr); err != nil || subnet.Contains(net.ParseIP(web.ip)) {
		t.Fatalf("the userspace network %s holds the kernel sandbox's address %s (%v): the test would prove nothing", cli.cidr, web.ip, err)
	}

	as := []attempt{
		// The path through slirp4netns works for what is published.
		{"published_on_gateway", "tcp," + gwPub, []string{"ok"}},
		// Nothing else of the kernel sandbox answers.
		{"unpublished", "tcp," + web.ip + ":9999", []string{"ECONNREFUSED"}},
		{"published_target_direct", "tcp," + web.ip + ":8080", []string{"ECONNREFUSED"}},
	}
	start := time.Now()
	got := us.probe("cli", append(args(as),
		"dns_kernel_resolver=dns,"+web.gw+",web",
		"dns_kernel_resolver_tcp=dns,"+web.gw+",web,tcp")...)
	t.Logf("attacker (%v): %v", time.Since(start).Round(time.Millisecond), got)
	for key, v := range got {
		if strings.HasSuffix(v, "i/o timeout") {
			got[key] = "i/o timeout"
		}
	}
	check(t, got, as)
	for _, l := range []string{"dns_kernel_resolver", "dns_kernel_resolver_tcp"} {
		if strings.HasPrefix(got[l], "NOERROR") {
			t.Errorf("ESCAPE: %s: the userspace service resolved the kernel project's service through %s: %q", l, web.gw, got[l])
		}
	}

	// The listeners are still there: the refusals were the firewall's.
	hostTalk(t, web.ip+":9999", "unpublished")
	hostTalk(t, fmt.Sprintf("127.0.0.1:%d", pub), "web")
}
