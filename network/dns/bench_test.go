package dns

import (
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"nucleus/internal/testutil"
)

// benchQueries sends b.N A queries for a local name over conn and reports
// the median round trip beside the mean.
func benchQueries(b *testing.B, conn net.Conn) {
	c := mdns.Client{Net: "udp", Timeout: 2 * time.Second}
	dc := &mdns.Conn{Conn: conn}
	req := new(mdns.Msg)
	req.SetQuestion("web.", mdns.TypeA)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		m, _, err := c.ExchangeWithConn(req, dc)
		if err != nil || len(m.Answer) != 2 {
			b.Fatalf("query: %v %v", err, m)
		}
		lat = append(lat, time.Since(t0))
	}
	b.ReportMetric(float64(testutil.Median(lat).Microseconds()), "median-µs")
}

// BenchmarkLocalQueryLoopback: a service name over UDP on the host loopback.
func BenchmarkLocalQueryLoopback(b *testing.B) {
	s, addr := startServer(b, Config{Upstreams: []string{"127.0.0.1:9"}})
	s.SetRecords(map[string][]net.IP{"web": ips("10.89.0.2", "10.89.0.3")})
	conn, err := net.Dial("udp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	benchQueries(b, conn)
}

// BenchmarkLocalQueryInNetns: the client and the listener inside a network
// namespace, the server in this process — the sandbox's view.
func BenchmarkLocalQueryInNetns(b *testing.B) {
	testutil.RequireRoot(b)
	ns := testutil.NewNetns(b)
	s, addr := startServerIn(b, ns, "127.0.0.1:0", Config{Upstreams: []string{"127.0.0.1:9"}})
	s.SetRecords(map[string][]net.IP{"web": ips("10.89.0.2", "10.89.0.3")})
	var conn net.Conn
	if err := InNetns(ns, func() (err error) {
		conn, err = net.Dial("udp", addr)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	benchQueries(b, conn)
}

// BenchmarkForwardedQuery: a name the server does not know, forwarded to a
// local upstream (the path of every non-service name).
func BenchmarkForwardedQuery(b *testing.B) {
	up := startUpstream(b, answerA("198.18.0.9", 60))
	_, addr := startServer(b, Config{Upstreams: []string{up}})
	conn, err := net.Dial("udp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := mdns.Client{Net: "udp", Timeout: 2 * time.Second}
	dc := &mdns.Conn{Conn: conn}
	req := new(mdns.Msg)
	req.SetQuestion("outside.example.", mdns.TypeA)
	var lat []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if m, _, err := c.ExchangeWithConn(req, dc); err != nil || len(m.Answer) != 1 {
			b.Fatalf("query: %v %v", err, m)
		}
		lat = append(lat, time.Since(t0))
	}
	b.ReportMetric(float64(testutil.Median(lat).Microseconds()), "median-µs")
}
