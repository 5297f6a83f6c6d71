package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// execute runs nucleus in-process with args and returns its stdout and
// stderr, the message main would print for the error (without main's
// "nucleus:" before one that is not an exitError) and the code it would
// exit with.
func execute(args ...string) (stdout, stderr, msg string, code int) {
	globals = globalOptions{}
	cmd := newRootCmd(nil)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	var ee *exitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &ee):
		code = ee.code
		if ee.err != nil {
			msg = ee.err.Error()
		}
	default:
		code, msg = 1, err.Error()
	}
	return out.String(), errOut.String(), msg, code
}

// runCLI runs nucleus in-process in dir and returns stdout, the error text
// (what main prints on stderr) and the exit code.
func runCLI(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	t.Chdir(dir)
	out, errOut, msg, code := execute(args...)
	return out, errOut + msg, code
}

func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	return testutil.WriteFiles(t, t.TempDir(), files)
}

const shopYAML = `name: shop
networks:
  front: {}
  back: {subnet: 10.89.1.0/24}
volumes:
  data: {}
services:
  web:
    command: serve --port 8080
    networks: [front, back]
    ports: ["127.0.0.1:8080:8080"]
    restart: no
    depends_on:
      db: {condition: service_healthy}
  db:
    command: [db]
    networks: [back]
    volumes: ["data:/var/lib/db"]
    healthcheck: {tcp: 5432}
  worker:
    command: [work]
    networks: [back]
`

func TestValidateValid(t *testing.T) {
	dir := writeProject(t, map[string]string{"nucleus.yaml": shopYAML})
	out, errText, code := runCLI(t, dir, "validate")
	if code != 0 || errText != "" {
		t.Fatalf("exit %d: %s", code, errText)
	}
	if out != "nucleus.yaml: project shop is valid: 3 services, 2 networks, 1 volume\n" {
		t.Errorf("stdout = %q", out)
	}
	// From a subdirectory, with -p: discovery goes upwards, -p wins.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	out, _, code = runCLI(t, sub, "-p", "Other", "validate")
	if code != 0 || out != filepath.Join(dir, "nucleus.yaml")+": project other is valid: 3 services, 2 networks, 1 volume\n" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
}

func TestValidateInvalid(t *testing.T) {
	dir := writeProject(t, map[string]string{"nucleus.yaml": `services:
  web:
    command: [a]
    ports: ["8080:80"]
    restart: sometimes
  api:
    command: [b]
    ports: ["8080:81"]
    depends_on: [web, nope]
`})
	out, errText, code := runCLI(t, dir, "validate")
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q; want 2 and nothing on stdout", code, out)
	}
	want := `nucleus.yaml:5:14: services.web.restart: invalid restart policy "sometimes"; expected no, always, on-failure[:MAX] or unless-stopped
nucleus.yaml:8:13: services.api.ports[0]: host port 8080/tcp is already published by service web
nucleus.yaml:9:23: services.api.depends_on: unknown service "nope"`
	if errText != want {
		t.Errorf("errors:\n%s\nwant:\n%s", errText, want)
	}
}

// TestValidateNetworkTooSmall: 300 replicas cannot all get an address on a
// /24 (253 host addresses); validate says so at the subnet instead of up
// starting 253 of them and waiting on the other 47 (issue 11, defect 10).
func TestValidateNetworkTooSmall(t *testing.T) {
	dir := writeProject(t, map[string]string{"nucleus.yaml": `networks:
  back:
    subnet: 10.89.1.0/24
services:
  web:
    command: [sleep, infinity]
    replicas: 300
    networks: [back]
`})
	for _, verb := range []string{"validate", "plan"} {
		out, errText, code := runCLI(t, dir, verb)
		want := "nucleus.yaml:3:13: networks.back.subnet: network back needs 300 addresses for its replicas but subnet 10.89.1.0/24 has 253"
		if code != 2 || out != "" || !strings.HasPrefix(errText, want) || !strings.Contains(errText, "like /23") {
			t.Errorf("%s: exit %d, stdout %q, errors:\n%s\nwant exit 2 and an error starting %q that suggests /23", verb, code, out, errText, want)
		}
	}
}

func TestValidateNoProject(t *testing.T) {
	_, errText, code := runCLI(t, t.TempDir(), "validate")
	if code != 2 || !strings.Contains(errText, "no nucleus.yaml or nucleus.yml found") {
		t.Errorf("exit %d: %s", code, errText)
	}
	_, errText, code = runCLI(t, t.TempDir(), "-f", "missing.yaml", "validate")
	if code != 2 || !strings.HasSuffix(errText, "missing.yaml: cannot read project file: no such file or directory") {
		t.Errorf("exit %d: %s", code, errText)
	}
}
