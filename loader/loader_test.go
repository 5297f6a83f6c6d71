package loader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/compose/composeapi"
	"nucleus/internal/testutil"
	"nucleus/spec"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithComposeHelper(m)) }

func load(t *testing.T, dir string, files ...string) (*spec.Project, []string, error) {
	t.Helper()
	var notes []string
	p, err := Load(Options{
		LoadOptions: spec.LoadOptions{Files: files, WorkingDir: dir, Environ: map[string]string{}},
		Warn:        func(w composeapi.Warning) { notes = append(notes, w.String()) },
	})
	return p, notes, err
}

// Discovery: nucleus.yaml wins in its directory; else Compose's names in
// Compose's order, with the override merged; a parent's file is found.
func TestDiscovery(t *testing.T) {
	svc := func(img string) string { return "services:\n  web: {image: " + img + ", read_only: true}\n" }
	dir := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"compose.yaml":          svc("busybox:1"),
		"docker-compose.yml":    svc("busybox:2"),
		"compose.override.yaml": "services:\n  web: {mem_limit: 64m}\n",
		"sub/x":                 "",
	})
	p, _, err := load(t, filepath.Join(dir, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	web := p.Services["web"]
	if !strings.HasSuffix(web.Image, "busybox:1") || web.Resources.Memory != 64<<20 {
		t.Errorf("got image %q memory %d; want compose.yaml's busybox:1 with the override's 64M", web.Image, web.Resources.Memory)
	}
	if want := []string{filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "compose.override.yaml")}; strings.Join(p.Files, ",") != strings.Join(want, ",") {
		t.Errorf("files %v, want %v", p.Files, want)
	}
	if !containsAll(p.WatchFiles, p.Files...) {
		t.Errorf("watch list %v lacks the compose files", p.WatchFiles)
	}

	testutil.WriteFile(t, filepath.Join(dir, "nucleus.yaml"), "services:\n  other: {command: [\"true\"]}\n")
	if p, _, err = load(t, dir); err != nil || p.Services["other"] == nil {
		t.Errorf("nucleus.yaml beside compose.yaml: %v, %v; want nucleus.yaml", p, err)
	}

	empty := t.TempDir()
	_, _, err = load(t, empty)
	if err == nil || !strings.Contains(err.Error(), "no nucleus.yaml or nucleus.yml found (nor compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml)") {
		t.Errorf("empty directory: %v", err)
	}
}

// -f: a compose file by name or content; the two kinds do not merge.
func TestFileKinds(t *testing.T) {
	dir := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"stack.yaml":   "version: '3'\nservices:\n  web: {image: busybox, read_only: true}\n",
		"app.yaml":     "services:\n  web: {command: [\"true\"]}\n",
		"compose.yaml": "services:\n  web: {image: busybox, read_only: true}\n",
	})
	for f, want := range map[string]bool{"stack.yaml": true, "app.yaml": false, "compose.yaml": true, "nucleus.yaml": false} {
		if got := IsCompose(f, nil, dir); got != want {
			t.Errorf("IsCompose(%s) = %v, want %v", f, got, want)
		}
	}
	p, notes, err := load(t, dir, "stack.yaml")
	if err != nil || p.Services["web"] == nil {
		t.Fatalf("-f stack.yaml: %v", err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "stack.yaml:1:1: version: ignored") {
		t.Errorf("notes %q", notes)
	}
	if _, _, err := load(t, dir, "app.yaml", "compose.yaml"); err == nil || !strings.Contains(err.Error(), "cannot be merged") {
		t.Errorf("mixed kinds: %v", err)
	}
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, l := range list {
			found = found || l == w
		}
		if !found {
			return false
		}
	}
	return true
}

// A compose project's .env follows Compose's rules (an unset variable is
// empty), not nucleus.yaml's strict ones.
func TestComposeDotEnvIsCompose(t *testing.T) {
	dir := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"compose.yaml": "services:\n  web: {image: busybox, read_only: true, environment: {A: $A}}\n",
		".env":         "A=x${NOT_SET_ANYWHERE}y\n",
	})
	p, _, err := load(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Services["web"].Environment["A"]; got != "xy" {
		t.Errorf("A = %q, want xy", got)
	}
}

// An error nucleus finds in the converted file names the compose file's
// position of the key that produced it.
func TestComposeErrorsPointIntoTheComposeFile(t *testing.T) {
	dir := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"compose.yaml": "services:\n  web:\n    image: busybox\n    read_only: true\n    mem_limit: 1m\n    hostname: -bad\n",
	})
	_, _, err := load(t, dir)
	f := filepath.Join(dir, "compose.yaml")
	want := []string{
		f + ":5:5: services.web.resources.memory: memory limit 1M is below the minimum of 6M",
		f + ":6:5: services.web.hostname: invalid hostname",
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v\nlacks %s", err, w)
		}
	}
}
