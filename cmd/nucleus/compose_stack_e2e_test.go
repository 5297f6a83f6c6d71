package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"
	"nucleus/internal/testutil"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// stackCompose is a web + database + cache stack as a Compose user writes
// it: images by reference, depends_on with service_healthy, a health check
// from the image (db) and one from the file (cache), a published port.
// web's page is a CGI script that fetches both backends by service name,
// so the page proves name resolution and reachability of both.
const stackCompose = `name: NAME
services:
  web:
    image: REGISTRY/stack-web:1
    ports:
      - "127.0.0.1:PORT:8080"
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_healthy
    environment:
      DB_URL: http://db:5432/
      CACHE_URL: http://cache:6379/
    restart: on-failure
  db:
    image: REGISTRY/stack-db:1
    restart: on-failure
  cache:
    image: REGISTRY/stack-cache:1
    healthcheck:
      test: ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:6379/"]
      interval: 1s
      retries: 30
    restart: on-failure
`

// stackFile is the only file in the project directory: up finds it,
// as docker compose does.
const stackFile = "compose.yaml"

// serverImage is busybox httpd on port serving dir, as user app.
func serverImage(t *testing.T, port string, files []imagebuild.Entry, health bool) v1.Image {
	s := imagetest.BusyboxSpec(t)
	s.Config.User = "app"
	s.Config.Entrypoint = []string{"/bin/busybox", "httpd", "-f", "-v", "-p", port, "-h", "/srv"}
	s.Config.Cmd = nil
	s.Config.ExposedPorts = map[string]struct{}{port + "/tcp": {}}
	if health {
		s.Config.Healthcheck = &v1.HealthConfig{
			Test:     []string{"CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:" + port + "/"},
			Interval: time.Second, Retries: 30,
		}
	}
	s.Layers = append(s.Layers, append([]imagebuild.Entry{imagebuild.Dir("srv", 0o755)}, files...))
	return imagetest.Build(t, s)
}

// TestComposeStack (issue 13): a directory with only compose.yaml runs
// with `nucleus up`, as with docker compose. The stack's images are built from
// busybox-static and pushed to the in-process registry on 127.0.0.1;
// up --wait brings db and cache to healthy before web starts, the page
// on 127.0.0.1 shows what web fetched from db and cache by name, ps lists
// the three healthy, and down leaves nothing.
func TestComposeStack(t *testing.T) {
	c := newCLI(t)
	c.project = "stack" + testutil.RandHex(3)
	reg := imagetest.Registry(t)
	reg.Push(t, "stack-db:1", serverImage(t, "5432", []imagebuild.Entry{
		imagebuild.File("srv/index.html", 0o644, "rows from db\n")}, true))
	reg.Push(t, "stack-cache:1", serverImage(t, "6379", []imagebuild.Entry{
		imagebuild.File("srv/index.html", 0o644, "hits from cache\n")}, false))
	reg.Push(t, "stack-web:1", serverImage(t, "8080", []imagebuild.Entry{
		imagebuild.File("srv/index.html", 0o644, "web\n"),
		imagebuild.Dir("srv/cgi-bin", 0o755),
		imagebuild.File("srv/cgi-bin/page", 0o755, "#!/bin/sh\n"+
			"printf 'Content-Type: text/plain\\r\\n\\r\\n'\n"+
			"echo \"db: $(wget -q -O- \"$DB_URL\" 2>&1)\"\n"+
			"echo \"cache: $(wget -q -O- \"$CACHE_URL\" 2>&1)\"\n"),
	}, true))

	// Only the stack file in the directory: up finds it by itself.
	if err := os.Remove(filepath.Join(c.dir, "nucleus.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(c.dir, "site")); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(c.dir, stackFile), strings.NewReplacer(
		"NAME", c.project, "REGISTRY", reg.Host, "PORT", strconv.Itoa(c.port)).Replace(stackCompose))

	start := time.Now()
	out, errs, code := c.run("up", "-d", "--wait", "--wait-timeout", "60s")
	if code != 0 {
		logs, _, _ := c.run("logs")
		table, _, _ := c.run("ps")
		t.Fatalf("up -d --wait: exit code %d\n%s%s\nps:\n%s\nlogs:\n%s", code, out, errs, table, logs)
	}
	t.Logf("up -d --wait of the stack (pulls included): %v", time.Since(start).Round(time.Millisecond))
	c.assertHealthy("db", "cache", "web")
	// The conversion's notes reach the user once, with the file's position.
	for _, svc := range []string{"web", "db", "cache"} {
		if n := strings.Count(errs, "compose.yaml:"); n == 0 || strings.Count(errs, "services."+svc+": read_only is not set") != 1 {
			t.Errorf("up should note once that %s's root stays read-only (compose.yaml:LINE:COL: services.%s: ...); stderr:\n%s", svc, svc, errs)
		}
	}
	ps := c.ps()
	if !ps["db"].StartedAt.Before(ps["web"].StartedAt) || !ps["cache"].StartedAt.Before(ps["web"].StartedAt) {
		t.Errorf("web started before db or cache (service_healthy): %+v", ps)
	}
	pids := c.projectPIDs()

	page, err := httpGet("http://127.0.0.1:" + strconv.Itoa(c.port) + "/cgi-bin/page")
	if err != nil || !strings.Contains(page, "db: rows from db") || !strings.Contains(page, "cache: hits from cache") {
		t.Errorf("GET /cgi-bin/page of web: %q, %v; want what db and cache serve, fetched by their names", page, err)
	}
	table := c.must("ps")
	for _, s := range []string{"web", "db", "cache"} {
		if !strings.Contains(table, s) {
			t.Errorf("ps does not list %s:\n%s", s, table)
		}
	}

	c.must("down")
	for _, pid := range pids {
		if testutil.Alive(pid) {
			t.Errorf("process %d of the stack (%s) still runs after down", pid, cmdline(pid))
		}
	}
	// Discovery read compose.yaml and wrote nothing beside it.
	if ents, _ := os.ReadDir(c.dir); len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the project directory holds %v after down, want only %s", names, stackFile)
	}
	// newCLI's clean-up checks that nothing of the project is left.
}
