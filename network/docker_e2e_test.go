package network

import (
	"archive/tar"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"nucleus/internal/testutil"
	"nucleus/network/nft"
)

// Debian's docker.io (make deps installs it; its service is never started
// by the tests). The docker CLI is named by path: another docker may come
// first in PATH.
const (
	dockerd   = "/usr/sbin/dockerd"
	dockerCLI = "/usr/bin/docker"
)

// hostFirewall is what the Docker test must leave as it found it in the
// host's network namespace: the nftables ruleset without nucleus's own
// tables (other tests' networks come and go), the loaded legacy iptables
// tables, ip_forward and the bridges that are not nucleus's.
func hostFirewall(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	out, err := exec.Command("nft", "list", "tables").Output()
	if err != nil {
		t.Fatalf("nft list tables: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l) // table FAMILY NAME
		if len(f) != 3 || strings.HasPrefix(f[2], TablePrefix) {
			continue
		}
		tbl, err := exec.Command("nft", "list", "table", f[1], f[2]).Output()
		if err != nil {
			continue // gone meanwhile
		}
		b.Write(tbl)
	}
	names, _ := os.ReadFile("/proc/net/ip_tables_names")
	fwd := readSysctl("net/ipv4/ip_forward")
	if left, _ := nucleusBridgeLeft(); left {
		fwd = "(not compared: nucleus networks of other tests exist)"
	}
	fmt.Fprintf(&b, "legacy tables: %q\nip_forward: %s\n", names, fwd)
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		t.Fatal(err)
	}
	var ls []string
	for _, l := range links { // other tests' links come and go: only bridges and Docker's
		if (l.Type() == "bridge" && !isNucleusBridge(l)) || strings.HasPrefix(l.Attrs().Name, "docker") {
			ls = append(ls, l.Attrs().Name)
		}
	}
	sort.Strings(ls)
	fmt.Fprintf(&b, "bridges: %v\n", ls)
	return b.String()
}

// sameFirewall compares two hostFirewall snapshots; ip_forward only when
// both were taken without other tests' nucleus networks on the host.
func sameFirewall(a, b string) bool {
	const skip = "(not compared"
	if strings.Contains(a, skip) || strings.Contains(b, skip) {
		drop := func(s string) string {
			var out []string
			for _, l := range strings.Split(s, "\n") {
				if !strings.HasPrefix(l, "ip_forward: ") {
					out = append(out, l)
				}
			}
			return strings.Join(out, "\n")
		}
		a, b = drop(a), drop(b)
	}
	return a == b
}

// busyboxImage writes a tarball holding only a static busybox, for
// `docker import` (no image can be pulled offline).
func busyboxImage(t *testing.T, dir string) string {
	t.Helper()
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))})
	tw.Write(bin)
	tw.WriteHeader(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox"})
	tw.Close()
	p := filepath.Join(dir, "busybox.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 10, Docker on the same host, end to end: a kernel-NAT project and
// a real dockerd side by side, in a network namespace of the test's own
// (nothing of it reaches the host's firewall; asserted). Traffic goes only
// to namespaces the test creates.
//
//  1. The project comes up (ip_forward 0 -> 1 by nucleus), then dockerd
//     starts; nucleus's watch puts its rules into DOCKER-USER, and the
//     FORWARD policy is set to DROP (what dockerd does whenever it switches
//     forwarding on itself; Docker 20.10 skips it when forwarding is
//     already on).
//  2. Services reach each other by address and by name, their allowed
//     egress and published ports (from a neighbour and the host), while
//     nucleus's isolation holds: denied egress refused, a neighbour
//     reaching a sandbox's address directly dropped.
//  3. A Docker container (busybox imported offline) reaches the neighbour.
//  4. nucleus down: nucleus's rules leave DOCKER-USER, ip_forward stays on
//     (docker0 and Docker's chains use it) and the container still reaches
//     the neighbour.
//  5. dockerd stops; Docker's leftovers are removed and the namespace is as
//     it was at the start.
func TestDockerOnTheSameHost(t *testing.T) {
	if os.Getenv("NUCLEUS_TEST_OWN_NETNS") == "" {
		testutil.RequireRoot(t)
		for _, bin := range []string{dockerd, dockerCLI, "/bin/busybox", "iptables-nft"} {
			testutil.RequireBinary(t, bin, "make deps installs docker.io and busybox-static")
		}
		before := hostFirewall(t)
		// dockerd makes a "docker" cgroup in every hierarchy and leaves
		// it behind when it stops: remove those this test's dockerd made.
		cgBefore, _ := filepath.Glob("/sys/fs/cgroup/*/docker")
		uniBefore, _ := filepath.Glob("/sys/fs/cgroup/docker")
		cgBefore = append(cgBefore, uniBefore...)
		defer func() {
			now, _ := filepath.Glob("/sys/fs/cgroup/*/docker")
			uni, _ := filepath.Glob("/sys/fs/cgroup/docker")
			for _, d := range append(now, uni...) {
				if slices.Contains(cgBefore, d) {
					continue
				}
				if err := os.Remove(d); err != nil {
					t.Errorf("dockerd's cgroup %s left behind: %v", d, err)
				}
			}
		}()
		ownNetns(t)
		// Tests of other packages may be changing the host meanwhile
		// (their own networks): give them a moment before failing.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(250 * time.Millisecond) {
			after := hostFirewall(t)
			if sameFirewall(before, after) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the host's firewall changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		}
		return
	}
	forwardMarker = filepath.Join(t.TempDir(), "ip_forward.enabled-by-nucleus")
	hostWatchInterval = 500 * time.Millisecond
	lo, _ := netlink.LinkByName("lo")
	netlink.LinkSetUp(lo)
	if err := writeSysctl("net/ipv4/ip_forward", "0"); err != nil {
		t.Fatal(err)
	}
	initial := hostFirewall(t)
	ipt := func(args ...string) string { t.Helper(); return iptables(t, args...) }
	mine := func() int {
		out, _ := exec.Command("iptables-nft", "-S", nft.DockerUserChain).CombinedOutput()
		return strings.Count(string(out), nft.DockerUserComment)
	}

	// 1. The project, then dockerd.
	e := newEnv(t)
	o := newOutside(t)
	serveEcho(t, o.pid, ":80", "out80:")
	serveEcho(t, o.pid, ":81", "out81:")
	ni := e.network("n", nil)
	if v := readSysctl("net/ipv4/ip_forward"); v != "1" {
		t.Fatalf("ip_forward = %s with a network", v)
	}
	web := sandbox(t)
	webPort := testutil.FreePort(t)
	wi := e.attach(Attachment{Network: "n", Service: "web", PID: web, Ports: []Port{{Target: 8080, Published: webPort, HostIP: "0.0.0.0", Protocol: "tcp"}}})
	serveEcho(t, web, ":8080", "web:")
	app := sandbox(t)
	e.attach(Attachment{Network: "n", Service: "app", PID: app, Egress: &Egress{Allow: []EgressRule{
		{CIDR: o.addr, PortStart: 80, PortEnd: 80, Protocol: "tcp"}}}})
	free := sandbox(t)
	e.attach(Attachment{Network: "n", Service: "free", PID: free})

	dir, err := os.MkdirTemp("", "nucleus-dockerd-") // short: the socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := "unix://" + filepath.Join(dir, "docker.sock")
	logf, _ := os.Create(filepath.Join(dir, "dockerd.log"))
	d := exec.Command(dockerd, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "-H", sock, "--storage-driver", "vfs",
		"--userland-proxy=false", "--iptables=true", "--ip6tables=false")
	d.Stdout, d.Stderr = logf, logf
	d.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.Start(); err != nil {
		t.Fatalf("start dockerd: %v", err)
	}
	dockerLog := func() string { b, _ := os.ReadFile(filepath.Join(dir, "dockerd.log")); return string(b) }
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		d.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			syscall.Kill(-d.Process.Pid, syscall.SIGKILL)
			<-done
		}
		syscall.Kill(-d.Process.Pid, syscall.SIGKILL) // containerd and shims of its group
	}
	defer stop()
	docker := func(args ...string) (string, error) {
		out, err := exec.Command(dockerCLI, append([]string{"-H", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := docker("version"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not come up:\n%s", dockerLog())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for deadline = time.Now().Add(10 * time.Second); mine() != 4; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("nucleus's rules did not appear in DOCKER-USER after dockerd started:\n%s", ipt("-S"))
		}
	}
	ipt("-P", "FORWARD", "DROP")
	if !strings.Contains(ipt("-S", "FORWARD"), "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n") {
		t.Fatalf("Docker's FORWARD chain:\n%s", ipt("-S", "FORWARD"))
	}

	// 2. The project through Docker's DROP policy.
	mustTalk(t, app, net.JoinHostPort(wi.IP, "8080"), "web:") // service to service
	if got, err := resolve(app, ni.Gateway, "web"); err != nil || len(got) != 1 || got[0] != wi.IP {
		t.Fatalf("resolve web: %v %v; want %s", got, err, wi.IP)
	}
	mustTalk(t, app, o.addr+":80", "out80:")                                               // allowed egress
	mustTalk(t, free, o.addr+":81", "out81:")                                              // unrestricted egress
	mustTalk(t, o.pid, fmt.Sprintf("%s:%d", o.hostAddr, webPort), "web:")                  // published, from a neighbour
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", webPort), "web:")                           // published, from the host
	mustTalk(t, free, fmt.Sprintf("%s:%d", o.hostAddr, webPort), "web:")                   // hairpin
	refusedQuickly(t, app, o.addr+":81")                                                   // egress rules hold
	if got, err := talk(o.pid, net.JoinHostPort(wi.IP, "8080"), time.Second); err == nil { // inbound isolation holds
		t.Fatalf("a neighbour reached the sandbox %s directly: %q", wi.IP, got)
	}

	// 3. A Docker container reaches the neighbour.
	img := busyboxImage(t, dir)
	if out, err := docker("import", img, "nucleus-test/busybox:1"); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	container := func(when string) {
		t.Helper()
		out, err := docker("run", "--rm", "--network", "bridge", "nucleus-test/busybox:1", "/bin/busybox", "sh", "-c",
			"echo hi | /bin/busybox nc -w 3 "+o.addr+" 81")
		if err != nil || !strings.Contains(out, "out81:hi") {
			t.Fatalf("%s: a Docker container to %s:81: %v\n%s\ndockerd:\n%s", when, o.addr, err, out, dockerLog())
		}
	}
	container("beside the project")

	// 4. nucleus down.
	if err := e.m.RemoveProject(e.ctx, e.project); err != nil {
		t.Fatal(err)
	}
	if n := mine(); n != 0 {
		t.Fatalf("%d nucleus rules left in DOCKER-USER after nucleus down:\n%s", n, ipt("-S", nft.DockerUserChain))
	}
	if v := readSysctl("net/ipv4/ip_forward"); v != "1" {
		t.Fatalf("ip_forward = %s after nucleus down while Docker uses it", v)
	}
	container("after nucleus down")

	// 5. dockerd stops; what Docker left goes (the FORWARD policy, its
	// chains and tables, docker0, ip_forward), then the namespace is as
	// found.
	docker("rmi", "nucleus-test/busybox:1")
	stop()
	out, _ := exec.Command("nft", "list", "tables").Output()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) == 3 && !strings.HasPrefix(f[2], TablePrefix) {
			exec.Command("nft", "delete", "table", f[1], f[2]).Run()
		}
	}
	if l, err := netlink.LinkByName("docker0"); err == nil {
		netlink.LinkDel(l)
	}
	// The note stays while someone else forwarded; with Docker gone the
	// next removal switches ip_forward off (nothing else forwards here).
	e.network("n", nil)
	if err := e.m.RemoveProject(e.ctx, e.project); err != nil {
		t.Fatal(err)
	}
	if after := hostFirewall(t); after != initial {
		t.Fatalf("the namespace differs from the start:\nstart:\n%s\nend:\n%s", initial, after)
	}
}
