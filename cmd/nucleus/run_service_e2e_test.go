package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/runtime"
)

const runServiceYAML = `
services:
  db:
    command: ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv"]
    volumes: ["./site:/srv:ro"]
    healthcheck: {tcp: 8080, interval: 200ms}
    stop_grace_period: 0s
  app:
    command: ["/bin/busybox", "sh", "-c", "echo app $$GREETING"]
    environment: {GREETING: hi}
    depends_on: {db: {condition: service_healthy}}
    ports: ["127.0.0.1:PORT:8080"]
    volumes: ["data:/data"]
volumes:
  data: {}
`

// TestCLIRunService: nucleus run SERVICE [CMD...] runs a one-off sandbox
// with the service's settings (command, environment, volumes, networks with
// the project's DNS) and the flags on top, after bringing its dependencies
// up; the plain `run -- CMD` form keeps working.
func TestCLIRunService(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + strings.ReplaceAll(runServiceYAML, "PORT", fmt.Sprint(c.port)))

	// The service's command and environment; db (its dependency) comes up.
	out, errOut, code := c.run("run", "app")
	if out != "app hi\n" || code != 0 {
		t.Fatalf("run app: stdout %q exit %d, stderr:\n%s", out, code, errOut)
	}
	if db := c.ps()["db"]; db.State != "healthy" {
		t.Errorf("run app did not bring up its dependency db: %+v", db)
	}
	if _, ok := c.ps("-a")["app"]; ok {
		t.Errorf("run app left a replica of app: %+v", c.ps("-a")["app"])
	}
	if out := c.must("run", "-e", "GREETING=yo", "app"); out != "app yo\n" {
		t.Errorf("run -e GREETING=yo app: %q", out)
	}
	// The project's network and DNS: db by name.
	if out := c.must("run", "app", "/bin/busybox", "wget", "-qO-", "http://db:8080/"); out != "hello from the e2e test\n" {
		t.Errorf("run app wget http://db:8080/: %q", out)
	}
	if _, _, code := c.run("run", "app", "/bin/busybox", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("run app sh -c 'exit 7': exit %d", code)
	}
	if out := c.must("run", "--no-deps", "-u", "1000", "-w", "/tmp", "app", "/bin/busybox", "sh", "-c", "id -u; pwd"); out != "1000\n/tmp\n" {
		t.Errorf("run -u 1000 -w /tmp app: %q", out)
	}
	if out := c.must("run", "--no-deps", "--hostname", "oneoff", "--read-only=false", "app", "/bin/busybox", "sh", "-c", "hostname; touch /usr/x && echo writable"); out != "oneoff\nwritable\n" {
		t.Errorf("run --hostname oneoff --read-only=false app: %q, want the flags on top of the service", out)
	}
	if out := c.must("run", "--entrypoint", "/bin/busybox echo", "app", "via", "entrypoint"); out != "via entrypoint\n" {
		t.Errorf("run --entrypoint app: %q", out)
	}

	// The named volume is the project's, in the project's uid range.
	c.must("run", "app", "/bin/busybox", "sh", "-c", "echo x > /data/f")
	fi, err := os.Stat(filepath.Join(runtime.VolumeDir(c.rootdir(), c.project, "data"), "f"))
	if err != nil {
		t.Fatalf("the file run app wrote to the data volume: %v", err)
	}
	base, err := runtime.ProjectIDRange(c.rootdir(), c.project)
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != base {
		t.Errorf("file written by run app is owned by host uid %d, want the project's root %d", uid, base)
	}

	// Ports: none unless --service-ports.
	serve := []string{"app", "/bin/busybox", "sh", "-c", "echo served > /data/index.html; /bin/busybox httpd -p 8080 -h /data; /bin/busybox sleep 3"}
	if c.portAnswers(append([]string{"run"}, serve...)) {
		t.Errorf("run app published the service's port without --service-ports")
	}
	if !c.portAnswers(append([]string{"run", "--service-ports"}, serve...)) {
		t.Errorf("run --service-ports app: 127.0.0.1:%d does not answer", c.port)
	}

	// The plain one-off form, and a service name after -- is a command.
	if out := c.must("run", "--", "/bin/busybox", "echo", "plain"); out != "plain\n" {
		t.Errorf("run -- echo plain: %q", out)
	}
	if _, errOut, code := c.run("run", "--", "app"); code != 127 || !strings.Contains(errOut, "app: executable file not found") {
		t.Errorf("run -- app: exit %d, stderr %q; want the command app, not found", code, errOut)
	}
	c.must("down", "-v")
}

// portAnswers runs nucleus with args in the background and reports whether
// 127.0.0.1:c.port answers an HTTP request while it runs.
func (c *cli) portAnswers(args []string) bool {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nucleusBin, append([]string{"--root", c.root}, args...)...)
	cmd.Dir = c.dir
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", c.port)); err == nil && strings.Contains(body, "served") {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
