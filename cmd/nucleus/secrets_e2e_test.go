package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

const secretsYAML = `name: NAME
secrets:
  db_pw: {file: ./pw.txt}
  token: {environment: E2E_TOKEN}
configs:
  app: {content: "mode=prod"}
services:
  web:
    command: ["/bin/busybox", "sleep", "1000"]
    stop_grace_period: 0s
    secrets: [db_pw, {source: token, target: tok, uid: 1000, mode: 0400}]
    configs: [{source: app, target: /conf/app.ini}]
    labels: {tier: LABEL}
  debug:
    command: ["/bin/busybox", "sleep", "1000"]
    stop_grace_period: 0s
    profiles: [debug]
  tools:
    command: ["/bin/busybox", "sleep", "1000"]
    stop_grace_period: 0s
    profiles: [tools]
`

// TestCLISecretsConfigsLabels: up mounts secrets and configs read-only at
// their targets with their owner and mode; their content is in no output,
// log or state file; editing the secret's file restarts the service with
// the new content, editing a label restarts nothing and shows in ps --json.
func TestCLISecretsConfigsLabels(t *testing.T) {
	c := newCLI(t)
	const secret = "e2e-secret-Zq81"
	c.env = []string{"E2E_TOKEN=e2e-token-Kx42"}
	testutil.WriteFile(t, filepath.Join(c.dir, "pw.txt"), secret)
	write := func(label string) {
		c.writeYAML(strings.NewReplacer("NAME", c.project, "LABEL", label).Replace(secretsYAML))
	}
	write("front")
	up := c.must("up", "-d", "--wait", "--wait-timeout", "30s")
	out := c.must("exec", "-T", "web", "--", "/bin/busybox", "sh", "-c",
		`for f in /run/secrets/db_pw /run/secrets/tok /conf/app.ini; do echo "$f $(stat -c '%u:%g %a' $f)"; done; cat /run/secrets/db_pw; echo; cat /conf/app.ini; echo; echo x > /run/secrets/db_pw || echo NOT-WRITABLE`)
	for _, want := range []string{"/run/secrets/db_pw 0:0 444", "/run/secrets/tok 1000:0 400", "/conf/app.ini 0:0 444", secret, "mode=prod", "NOT-WRITABLE"} {
		if !strings.Contains(out, want) {
			t.Errorf("in the sandbox: output lacks %q:\n%s", want, out)
		}
	}
	// The token is readable by uid 1000 only.
	if out, _, _ := c.run("exec", "-T", "web", "--", "/bin/busybox", "cat", "/run/secrets/tok"); strings.Contains(out, "e2e-token") {
		t.Errorf("root without CAP_DAC_OVERRIDE read a 0400 secret of uid 1000: %q", out)
	}
	ps := c.must("ps", "--json")
	if got := webLabel(t, c); got != "front" {
		t.Errorf("ps --json: web's label tier is %q, want front:\n%s", got, ps)
	}
	config := c.must("config")
	plan, _, _ := c.run("plan")
	everything := up + ps + config + plan
	pid := c.ps()["web"].PID

	// A label edit restarts nothing; ps shows the new value.
	write("back")
	testutil.WaitFor(t, "the new label in ps --json", 20*time.Second, func() bool {
		return webLabel(t, c) == "back"
	})
	if got := c.ps()["web"].PID; got != pid {
		t.Errorf("a label edit restarted web (pid %d -> %d)", pid, got)
	}

	// A secret edit restarts web with the new content.
	testutil.WriteFile(t, filepath.Join(c.dir, "pw.txt"), "rotated-secret")
	testutil.WaitFor(t, "web restarted with the rotated secret", 30*time.Second, func() bool {
		out, _, code := c.run("exec", "-T", "web", "--", "/bin/busybox", "cat", "/run/secrets/db_pw")
		return code == 0 && out == "rotated-secret"
	})
	if got := c.ps()["web"].PID; got == pid {
		t.Errorf("the secret changed but web kept pid %d", pid)
	}
	plan2, _, _ := c.run("plan")
	everything += plan2
	log, _ := os.ReadFile(filepath.Join(c.root, "run", "supervisors", c.project+".log"))
	everything += string(log)
	for _, s := range []string{secret, "rotated-secret", "e2e-token-Kx42"} {
		if strings.Contains(everything, s) {
			t.Errorf("the secret %q shows in up, ps, config, plan or the supervisor's log", s)
		}
	}
	// No file under the state root holds a secret.
	_ = filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, s := range []string{secret, "rotated-secret", "e2e-token-Kx42"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the secret %q", p, s)
			}
		}
		return nil
	})
}

// webLabel is web's label tier in ps --json.
func webLabel(t *testing.T, c *cli) string {
	var rows []struct {
		Service string            `json:"service"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.Unmarshal([]byte(c.must("ps", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Service == "web" {
			return r.Labels["tier"]
		}
	}
	return ""
}

// TestCLIProfiles: services with profiles run only when a profile is
// active (--profile, COMPOSE_PROFILES/NUCLEUS_PROFILES) or when named; a
// running supervisor keeps what it was asked to enable across reloads.
func TestCLIProfiles(t *testing.T) {
	c := newCLI(t)
	c.env = []string{"E2E_TOKEN=t"}
	testutil.WriteFile(t, filepath.Join(c.dir, "pw.txt"), "pw")
	c.writeYAML(strings.NewReplacer("NAME", c.project, "LABEL", "x").Replace(secretsYAML))
	running := func() string {
		var names []string
		for name, r := range c.ps() {
			if r.State == "running" {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		return strings.Join(names, " ")
	}
	c.must("up", "-d", "--wait")
	if got := running(); got != "web" {
		t.Fatalf("up without profiles runs %q, want web", got)
	}
	// --profile against the running supervisor adds debug.
	c.must("--profile", "debug", "up", "-d", "--wait")
	if got := running(); got != "debug web" {
		t.Fatalf("--profile debug up runs %q, want debug web", got)
	}
	// A named service runs whatever its profiles.
	c.must("up", "-d", "--wait", "tools")
	if got := running(); got != "debug tools web" {
		t.Fatalf("up tools runs %q, want debug tools web", got)
	}
	// A reload (file edit) keeps them: the supervisor recorded them.
	c.writeYAML(strings.NewReplacer("NAME", c.project, "LABEL", "y").Replace(secretsYAML))
	time.Sleep(2 * time.Second)
	if got := running(); got != "debug tools web" {
		t.Fatalf("after a reload %q runs, want debug tools web", got)
	}
	// A supervisor started again without --profile (the last one was
	// killed) leaves them running, as Compose leaves them; so does an up
	// without --profile.
	pids := c.ps()
	if err := syscall.Kill(c.supervisorPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the supervisor gone", 10*time.Second, func() bool { return c.supervisorPID() == 0 })
	c.must("up", "-d", "--wait")
	again := c.ps()
	if got := running(); got != "debug tools web" || again["debug"].PID != pids["debug"].PID {
		t.Fatalf("a new supervisor without --profile: %q runs (debug pid %d -> %d), want debug tools web untouched",
			got, pids["debug"].PID, again["debug"].PID)
	}
	c.must("down")

	// The environment: COMPOSE_PROFILES, and NUCLEUS_PROFILES over it.
	c.env = []string{"E2E_TOKEN=t", "COMPOSE_PROFILES=debug,tools"}
	c.must("up", "-d", "--wait")
	if got := running(); got != "debug tools web" {
		t.Errorf("COMPOSE_PROFILES=debug,tools runs %q", got)
	}
	c.must("down")
	c.env = []string{"E2E_TOKEN=t", "COMPOSE_PROFILES=debug,tools", "NUCLEUS_PROFILES=tools"}
	c.must("up", "-d", "--wait")
	if got := running(); got != "tools web" {
		t.Errorf("NUCLEUS_PROFILES=tools beside COMPOSE_PROFILES runs %q", got)
	}
	c.must("down")

	// depends_on on a disabled service names both.
	c.env = []string{"E2E_TOKEN=t"}
	c.writeYAML(strings.Replace(strings.NewReplacer("NAME", c.project, "LABEL", "x").Replace(secretsYAML),
		"    labels: {tier: x}\n", "    labels: {tier: x}\n    depends_on: [debug]\n", 1))
	_, errs, code := c.run("up", "-d")
	if code != 2 || !strings.Contains(errs, "service web depends on service debug, which is not enabled") {
		t.Errorf("depends_on a disabled service: exit %d\n%s", code, errs)
	}
}
