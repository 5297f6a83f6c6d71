package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile"
)

// Service names with '.' and upper case (Compose's characters) run, are
// listed, resolve in the project's DNS (as SERVICE, SERVICE-N and
// SERVICE.PROJECT, in any case) and their replica IDs parse back.
func TestDottedServiceName(t *testing.T) {
	c := newCLI(t)
	c.writeYAML(fmt.Sprintf(`name: %s
services:
  api.v2:
    command: ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv"]
    volumes: ["./site:/srv:ro"]
    healthcheck: {tcp: 8080, interval: 200ms}
    stop_grace_period: 1s
  Client:
    command: ["/bin/busybox", "sh", "-c", "for n in api.v2 API.V2-1 api.v2.%s; do until /bin/busybox wget -q -O - http://$$n:8080/ | sed \"s/^/$$n: /\"; do sleep 0.2; done; done; sleep 600"]
    depends_on: {api.v2: {condition: service_healthy}}
    stop_grace_period: 1s
`, c.project, c.project))
	c.must("up", "-d", "--wait", "--wait-timeout", "30s")
	rows := c.ps()
	if rows["api.v2"].State != "healthy" || rows["Client"].State != "running" {
		t.Fatalf("ps: %+v", rows)
	}
	var logs string
	testutil.WaitFor(t, "Client fetched the page by every name", 15*time.Second, func() bool {
		logs = c.must("logs", "Client")
		return strings.Count(logs, "hello from the e2e test") == 3
	})
	for _, n := range []string{"api.v2: ", "API.V2-1: ", "api.v2." + c.project + ": "} {
		if !strings.Contains(logs, n+"hello from the e2e test") {
			t.Errorf("logs lack the page fetched as %s:\n%s", strings.TrimSuffix(n, ": "), logs)
		}
	}
	recs, err := reconcile.NewStore(c.rootdir()).LoadSandboxes(c.project)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if id, ok := reconcile.ParseID(r.ID); !ok || id.Service != r.Service || id.Project != c.project {
			t.Errorf("sandbox ID %q parses as %+v, %v; want service %s", r.ID, id, ok, r.Service)
		}
	}
}
