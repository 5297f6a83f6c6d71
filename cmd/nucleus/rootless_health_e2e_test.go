package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
)

// TestRootlessHelloHealthy: examples/hello (its tcp health check on 8080)
// up as an ordinary user becomes healthy, and an http check of a second
// service too. The probes connect from inside the sandbox's network
// namespace, which the user cannot setns into (CAP_SYS_ADMIN in its own
// user namespace is needed): before, every probe failed with "enter
// network namespace: operation not permitted" and hello stayed starting.
func TestRootlessHelloHealthy(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	src, err := os.ReadFile("../../examples/hello/nucleus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The example as it is, but for the published host port (the machine
	// is shared) and a second service with an http check.
	y := strings.Replace(string(src), `"127.0.0.1:8080:8080"`, `"127.0.0.1:`+strconv.Itoa(testutil.FreePort(t))+`:8080"`, 1)
	if y == string(src) {
		t.Fatal("examples/hello/nucleus.yaml no longer publishes 127.0.0.1:8080:8080: update this test")
	}
	y += `  api:
    command: /bin/busybox httpd -f -p 9090 -h /srv
    volumes: ["./site:/srv:ro"]
    healthcheck:
      http: http://127.0.0.1:9090/
      interval: 1s
`
	testutil.WriteFile(t, filepath.Join(e.Home, "site", "index.html"), "hello\n")
	e.WriteProject(t, y)
	if err := os.Chown(filepath.Join(e.Home, "site"), u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	r := e.Run(t, nucleusBin, "up", "-d", "--wait", "--wait-timeout", "40s")
	defer func() {
		if r := e.Run(t, nucleusBin, "down", "-t", "1"); r.Code != 0 {
			t.Errorf("down: %s", r)
		}
	}()
	ps := e.Run(t, nucleusBin, "ps", "--json")
	var rows []struct {
		Name   string `json:"name"`
		Health string `json:"health"`
	}
	_ = json.Unmarshal([]byte(ps.Stdout), &rows)
	health := map[string]string{}
	for _, row := range rows {
		health[row.Name] = row.Health
	}
	if r.Code != 0 || health["web-1"] != "healthy" || health["api-1"] != "healthy" {
		logs := e.Run(t, nucleusBin, "logs")
		t.Fatalf("up -d --wait of examples/hello as %s: want exit 0, web-1 and api-1 healthy, got %v:\n%s\nps:\n%s\nlogs:\n%s", u.Name, health, r, ps, logs)
	}
}
