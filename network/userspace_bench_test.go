package network

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"nucleus/internal/testutil"
)

// iperf3Gbps runs an iperf3 client (in the namespace of clientPid, 0 = host)
// against addr:port for 3 s and returns the received Gbit/s.
func iperf3Gbps(b *testing.B, clientPid int, host string, port int) float64 {
	args := []string{"iperf3", "-c", host, "-p", fmt.Sprint(port), "-t", "3", "-J"}
	if clientPid != 0 {
		args = append([]string{"nsenter", "--net=" + nsPath(clientPid)}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).Output()
	if err != nil {
		b.Fatalf("iperf3 client: %v\n%s", err, out)
	}
	gbps, err := iperfGbps(out)
	if err != nil {
		b.Fatalf("iperf3 output: %v", err)
	}
	return gbps
}

// iperf3Server runs iperf3 -s in pid's namespace (0 = host) on port.
func iperf3Server(b *testing.B, pid, port int) {
	args := []string{"iperf3", "-s", "-p", fmt.Sprint(port)}
	if pid != 0 {
		args = append([]string{"nsenter", "--net=" + nsPath(pid)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(300 * time.Millisecond) // let it bind
}

// BenchmarkUserspaceThroughput: TCP from the host's loopback through a
// published port (slirp4netns hostfwd, hub DNAT, bridge) into a sandbox,
// and from the sandbox out through slirp4netns to another namespace; with
// host loopback as the reference. MTU 65520 on tap0 and the veths.
func BenchmarkUserspaceThroughput(b *testing.B) {
	_, err := exec.LookPath("iperf3")
	testutil.Require(b, err == nil, "iperf3 installed")
	e := newEnv(b)
	e.usNetwork("perf", nil)
	srv := sandbox(b)
	p := testutil.FreePort(b)
	e.attach(Attachment{Network: "perf", Service: "srv", Pid: srv, Ports: []Port{{Target: 5201, Published: p, HostIP: "127.0.0.1", Protocol: "tcp"}}})
	iperf3Server(b, srv, 5201)
	o := newOutside(b)
	iperf3Server(b, o.pid, 5202)
	lp := testutil.FreePort(b)
	iperf3Server(b, 0, lp)
	for b.Loop() {
		b.ReportMetric(iperf3Gbps(b, 0, "127.0.0.1", lp), "loopback-Gbit/s")
		b.ReportMetric(iperf3Gbps(b, 0, "127.0.0.1", p), "published-Gbit/s")
		b.ReportMetric(iperf3Gbps(b, srv, o.addr, 5202), "outbound-Gbit/s")
	}
}

// BenchmarkUserspaceDNSFromSandbox: a service name resolved from inside a
// sandbox of a userspace network (veth, hub bridge, server in this process).
func BenchmarkUserspaceDNSFromSandbox(b *testing.B) {
	e := newEnv(b)
	ni := e.usNetwork("dns", nil)
	a := sandbox(b)
	e.attach(Attachment{Network: "dns", Service: "web", Pid: a})
	var conn net.Conn
	if err := in(a, func() (err error) { conn, err = net.Dial("udp4", net.JoinHostPort(ni.Gateway, "53")); return }); err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := &mdns.Client{Timeout: 2 * time.Second}
	dc := &mdns.Conn{Conn: conn}
	q := new(mdns.Msg)
	q.SetQuestion("web.", mdns.TypeA)
	var lat []time.Duration
	for b.Loop() {
		t0 := time.Now()
		r, _, err := c.ExchangeWithConn(q, dc)
		if err != nil || len(r.Answer) != 1 {
			b.Fatalf("resolve web: %v %v", r, err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.ReportMetric(float64(testutil.Median(lat).Microseconds()), "median-µs")
}
