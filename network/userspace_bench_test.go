package network

import (
	"net"
	"os/exec"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"nucleus/internal/testutil"
	"nucleus/spec"
)

// BenchmarkUserspaceThroughput: TCP from the host's loopback through a
// published port (the helper's forward, hub DNAT, bridge) into a sandbox,
// and from the sandbox out through the helper to another namespace, with
// each way out of the hub (slirp4netns, pasta); with host loopback as the
// reference. MTU 65520 on tap0 and the veths.
func BenchmarkUserspaceThroughput(b *testing.B) {
	_, err := exec.LookPath("iperf3")
	testutil.Require(b, err == nil, "iperf3 installed")
	for _, h := range []string{spec.UserspaceSlirp, spec.UserspacePasta} {
		b.Run(h, func(b *testing.B) {
			testutil.RequireBinary(b, h, "make deps installs it")
			e := newEnv(b)
			e.usNetwork("perf", func(n *Config) { n.UserspaceBackend = h })
			srv := sandbox(b)
			p := testutil.FreePort(b)
			e.attach(Attachment{Network: "perf", Service: "srv", PID: srv, Ports: []Port{{Target: 5201, Published: p, HostIP: "127.0.0.1", Protocol: "tcp"}}})
			o := newOutside(b)
			lp := testutil.FreePort(b)
			for b.Loop() {
				b.ReportMetric(iperf(b, 0, lp, 0, "127.0.0.1", lp), "loopback-Gbit/s")
				b.ReportMetric(iperf(b, srv, 5201, 0, "127.0.0.1", p), "published-Gbit/s")
				b.ReportMetric(iperf(b, o.pid, 5202, srv, o.addr, 5202), "outbound-Gbit/s")
			}
		})
	}
}

// BenchmarkUserspaceDNSFromSandbox: a service name resolved from inside a
// sandbox of a userspace network (veth, hub bridge, server in this process).
func BenchmarkUserspaceDNSFromSandbox(b *testing.B) {
	e := newEnv(b)
	ni := e.usNetwork("dns", nil)
	a := sandbox(b)
	e.attach(Attachment{Network: "dns", Service: "web", PID: a})
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
