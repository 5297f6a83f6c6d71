package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// A port without a host port is published on an ephemeral one, as Compose
// does: ps shows it, nucleus port prints it, it serves on 127.0.0.1, and a
// restart of the replica keeps it.
func TestEphemeralPort(t *testing.T) {
	c := newCLI(t)
	c.writeYAML(fmt.Sprintf(`name: %s
services:
  web:
    command: ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv"]
    ports: ["127.0.0.1::8080", {target: 9090, host_ip: 127.0.0.1}]
    volumes: ["./site:/srv:ro"]
    healthcheck: {tcp: 8080, interval: 200ms}
    stop_grace_period: 1s
`, c.project))
	c.must("up", "-d", "--wait", "--wait-timeout", "30s")
	addr := strings.TrimSpace(c.must("port", "web", "8080"))
	if !strings.HasPrefix(addr, "127.0.0.1:") || addr == "127.0.0.1:8080" || addr == "127.0.0.1:0" {
		t.Fatalf("nucleus port web 8080 = %q; want 127.0.0.1:EPHEMERAL", addr)
	}
	other := strings.TrimSpace(c.must("port", "web", "9090/tcp"))
	if !strings.HasPrefix(other, "127.0.0.1:") || other == addr {
		t.Errorf("nucleus port web 9090/tcp = %q; want another ephemeral port", other)
	}
	if got := c.ps()["web"].Ports; strings.Join(got, ",") != addr+"->8080/tcp,"+other+"->9090/tcp" {
		t.Errorf("ps ports %v; want %s->8080/tcp and %s->9090/tcp", got, addr, other)
	}
	var page string
	testutil.WaitFor(t, "the page on "+addr, 10*time.Second, func() bool {
		var err error
		page, err = httpGet("http://" + addr + "/")
		return err == nil
	})
	if !strings.Contains(page, "hello from the e2e test") {
		t.Errorf("GET %s: %q", addr, page)
	}
	if _, errs, code := c.run("port", "web", "7070"); code == 0 || !strings.Contains(errs, "does not publish 7070/tcp") {
		t.Errorf("port web 7070: exit %d, %s", code, errs)
	}
	c.must("restart", "web")
	c.must("up", "-d", "--wait", "--wait-timeout", "30s")
	if again := strings.TrimSpace(c.must("port", "web", "8080")); again != addr {
		t.Errorf("after restart web's 8080 is on %s; want %s again", again, addr)
	}
}
