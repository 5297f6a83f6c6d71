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
)

// runBin runs the nucleus binary in dir with stdin and a fresh state
// root, and returns stdout, stderr and the exit code.
func runBin(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	c := &cli{t: t, root: t.TempDir(), dir: dir, stdin: stdin}
	return c.run(args...)
}

const convertCompose = `version: "3.8"
services:
  web:
    image: nginx:1.27
    mem_limit: 64m
    ports: ["127.0.0.1:8080:80"]
    environment:
      GREETING: hello $WHO
    read_only: true
`

// TestConvertCommand: nucleus convert prints a nucleus.yaml that validate
// accepts, notes on stderr with FILE:LINE:COL, exit 0; -o writes the file;
// a service it cannot map exits 2 with the reason and writes nothing.
func TestConvertCommand(t *testing.T) {
	dir := writeProject(t, map[string]string{"compose.yaml": convertCompose})
	out, errs, code := runBin(t, dir, "", "convert")
	if code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, errs)
	}
	wantErr := "warning: compose.yaml:1:1: version: ignored: Compose itself ignores it, and so does nucleus\n" +
		"warning: compose.yaml:8:17: services.web.environment.GREETING: variable WHO is not set: it becomes an empty string, as in Compose\n"
	if errs != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", errs, wantErr)
	}
	for _, s := range []string{"image: nginx:1.27", "resources: {memory: 64M}", `published: "8080"`, "GREETING: 'hello '"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	testutil.WriteFile(t, filepath.Join(dir, "out", "nucleus.yaml"), out)
	if v, errs, code := runBin(t, filepath.Join(dir, "out"), "", "validate"); code != 0 {
		t.Errorf("validate of the output: exit %d\n%s%s", code, v, errs)
	}

	// -o, and the environment fills the variable.
	if _, errs, code := runBin(t, dir, "", "convert", "-o", "conv.yaml"); code != 0 {
		t.Fatalf("convert -o: exit %d\n%s", code, errs)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "conv.yaml")); err != nil || !strings.Contains(string(b), "image: nginx:1.27") {
		t.Errorf("convert -o wrote %q, %v", b, err)
	}

	// build without image: exit 2, the reason, nothing written.
	testutil.WriteFile(t, filepath.Join(dir, "bad", "docker-compose.yml"), "services:\n  app:\n    build: .\n")
	out, errs, code = runBin(t, filepath.Join(dir, "bad"), "", "convert", "-o", "nucleus.yaml")
	if code != 2 {
		t.Errorf("convert of build without image: exit %d, want 2", code)
	}
	if !strings.Contains(errs, "error: docker-compose.yml:3:5: services.app.build: nucleus does not build images, it runs existing ones: build this one with docker, podman or buildah") {
		t.Errorf("stderr lacks the build error:\n%s", errs)
	}
	if testutil.FileExists(filepath.Join(dir, "bad", "nucleus.yaml")) || out != "" {
		t.Errorf("a failed convert wrote something (stdout %q)", out)
	}
}

// TestComposeFileFromStdin: -f - reads a compose file (or a nucleus.yaml)
// from standard input, told apart by content.
func TestComposeFileFromStdin(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := runBin(t, dir, convertCompose, "-f", "-", "config", "--services")
	if code != 0 || strings.TrimSpace(out) != "web" {
		t.Errorf("-f - config --services of a compose file: exit %d, %q\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "warning: <stdin>:8:17: services.web.environment.GREETING: variable WHO is not set") {
		t.Errorf("stderr lacks the note on <stdin>:\n%s", errs)
	}
	out, errs, code = runBin(t, dir, "name: x\nservices:\n  a: {command: [\"true\"]}\n", "-f", "-", "validate")
	if code != 0 || !strings.Contains(out, "project x is valid: 1 service") {
		t.Errorf("-f - validate of a nucleus.yaml: exit %d, %q\n%s", code, out, errs)
	}
}

// TestUnsetVariableInBothFormats: a compose file reads an unset variable
// as empty with a note; nucleus.yaml refuses it and suggests ${VAR:-}.
func TestUnsetVariableInBothFormats(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"compose.yaml": "services:\n  a:\n    image: busybox\n    read_only: true\n    command: [\"echo\", \"${NOPE_X}\"]\n",
		"nucleus.yaml": "services:\n  a:\n    command: [\"echo\", \"${NOPE_X}\"]\n",
	})
	out, errs, code := runBin(t, dir, "", "-f", "compose.yaml", "config")
	if code != 0 || !strings.Contains(out, `- ""`) || !strings.Contains(errs, "warning: compose.yaml:5:23: services.a.command[1]: variable NOPE_X is not set: it becomes an empty string, as in Compose") {
		t.Errorf("compose: exit %d\n%s\n%s", code, out, errs)
	}
	_, errs, code = runBin(t, dir, "", "validate")
	if code != 2 || !strings.Contains(errs, "nucleus.yaml:3:23: services.a.command[1]: variable NOPE_X is not set; set it in the environment or in .env, give a default with ${NOPE_X:-default}, or write ${NOPE_X:-} for an empty value as Compose does") {
		t.Errorf("nucleus.yaml: exit %d\n%s", code, errs)
	}
}

const discoveryCompose = `name: NAME
services:
  web:
    image: REGISTRY/conv-web:TAG
    ports: ["127.0.0.1:PORT:8080"]
    container_name: front
    environment:
      EMPTY: $UNSET_FOR_TEST
`

// TestUpFindsComposeFile: with only a compose.yaml in the directory, up
// finds it, prints its notes once, runs the image from the test registry;
// an edit of compose.yaml reloads the supervisor (new tag, new page).
func TestUpFindsComposeFile(t *testing.T) {
	c := newCLI(t)
	c.project = "conv" + testutil.RandHex(3)
	reg := imagetest.Registry(t)
	for _, tag := range []string{"1", "2"} {
		reg.Push(t, "conv-web:"+tag, serverImage(t, "8080", []imagebuild.Entry{
			imagebuild.File("srv/index.html", 0o644, "page "+tag+"\n")}, false))
	}
	if err := os.Remove(filepath.Join(c.dir, "nucleus.yaml")); err != nil {
		t.Fatal(err)
	}
	write := func(tag string) {
		y := strings.NewReplacer("NAME", c.project, "REGISTRY", reg.Host, "PORT", strconv.Itoa(c.port), "TAG", tag).Replace(discoveryCompose)
		tmp := filepath.Join(c.dir, ".compose.yaml.swp")
		testutil.WriteFile(t, tmp, y)
		if err := os.Rename(tmp, filepath.Join(c.dir, "compose.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	write("1")

	out, errs, code := c.run("up", "-d", "--wait", "--wait-timeout", "60s")
	if code != 0 {
		t.Fatalf("up -d --wait: exit %d\n%s%s", code, out, errs)
	}
	note := "warning: compose.yaml:8:14: services.web.environment.EMPTY: variable UNSET_FOR_TEST is not set: it becomes an empty string, as in Compose"
	if n := strings.Count(errs, note); n != 1 {
		t.Errorf("up printed the unset-variable note %d times, want once:\n%s", n, errs)
	}
	if !strings.Contains(errs, "warning: compose.yaml:6:5: services.web.container_name: becomes the network alias front") {
		t.Errorf("up's stderr lacks the container_name note:\n%s", errs)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(c.port) + "/"
	if page, err := httpGet(url); err != nil || page != "page 1\n" {
		t.Fatalf("GET %s: %q, %v; want page 1", url, page, err)
	}
	if ps := c.ps(); ps["web"].State != "running" && ps["web"].State != "healthy" {
		t.Errorf("ps: web is %q", ps["web"].State)
	}
	// Commands that only look (ps, logs, port...) do not repeat the notes.
	if _, errs, code := c.run("ps"); code != 0 || strings.Contains(errs, "warning:") {
		t.Errorf("ps of the compose project: exit %d, stderr:\n%s", code, errs)
	}

	// run SERVICE finds the service in compose.yaml too.
	if out, errs, code := c.run("run", "--no-deps", "--entrypoint", "/bin/busybox", "web", "cat", "/srv/index.html"); out != "page 1\n" || code != 0 {
		t.Errorf("run web of the compose project: %q, exit %d\n%s", out, code, errs)
	}

	// An edit of compose.yaml reaches the supervisor through its watch list.
	write("2")
	testutil.WaitFor(t, "web to serve page 2 after the compose.yaml edit", 60*time.Second, func() bool {
		page, err := httpGet(url)
		return err == nil && page == "page 2\n"
	})
	c.must("down")
}

// TestDetachedUpRefusesStdin: up -d with -f - would leave a supervisor
// that cannot reload (standard input is read once): refused, exit 2.
func TestDetachedUpRefusesStdin(t *testing.T) {
	c := &cli{t: t, root: t.TempDir(), dir: t.TempDir(), stdin: convertCompose}
	_, errs, code := c.run("-f", "-", "up", "-d")
	if code != 2 || !strings.Contains(errs, "up -d: -f - cannot be used") {
		t.Errorf("up -d -f -: exit %d\n%s", code, errs)
	}
	if entries, _ := os.ReadDir(c.root); len(entries) > 0 {
		t.Errorf("up -d -f - left %d entries in the state root", len(entries))
	}
}
