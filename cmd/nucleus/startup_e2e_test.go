package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// TestStartRunsNoComposeInit: every nucleus command pays for the package
// init of everything linked into the binary; compose-go's JSON Schema
// library compiles its meta-schemas at init (~3.5 ms of each start), so
// it lives in nucleus-compose and `nucleus version` runs none of it (issue
// 15).
func TestStartRunsNoComposeInit(t *testing.T) {
	cmd := exec.Command(nucleusBin, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nucleus version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "init ") {
		t.Fatalf("GODEBUG=inittrace=1 printed no init lines:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, heavy := range []string{"github.com/santhosh-tekuri/", "github.com/compose-spec/", "github.com/distribution/reference"} {
			if strings.HasPrefix(line, "init "+heavy) {
				t.Errorf("nucleus version ran a package init it does not need: %s", line)
			}
		}
	}
}

// TestComposeNeedsHelper: a nucleus binary installed without
// nucleus-compose beside it says what is missing for a compose file (and
// still reads nucleus.yaml).
func TestComposeNeedsHelper(t *testing.T) {
	alone := filepath.Join(t.TempDir(), "nucleus")
	if err := os.Link(nucleusBin, alone); err != nil {
		t.Fatal(err)
	}
	dir := writeProject(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: busybox\n    command: [\"/bin/true\"]\n"})
	cmd := exec.Command(alone, "--root", t.TempDir(), "convert")
	cmd.Dir = dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "NUCLEUS_COMPOSE=") })
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nucleus-compose, expected next to "+alone) {
		t.Errorf("convert without nucleus-compose: %v\n%s\nwant an error naming nucleus-compose and where it was expected", err, out)
	}
	testutil.WriteFile(t, filepath.Join(dir, "n", "nucleus.yaml"), "name: n\nservices:\n  web:\n    command: [\"/bin/true\"]\n")
	cmd = exec.Command(alone, "--root", t.TempDir(), "validate")
	cmd.Dir = filepath.Join(dir, "n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("validate of a nucleus.yaml without nucleus-compose: %v\n%s", err, out)
	}
}

// TestSeccompNeedsHelperOnlyOnCacheMiss: nucleus links no libseccomp; it
// runs nucleus-seccomp from beside itself when its BPF cache has no filter
// for the profile. A run with the helper fills the cache, so a later run
// of the same build needs no helper; a fresh state root without the helper
// fails naming it, where it was expected and how to build and install
// all five binaries (and `--seccomp unconfined` compiles nothing).
func TestSeccompNeedsHelperOnlyOnCacheMiss(t *testing.T) {
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "nucleus")
	if err := os.Link(nucleusBin, bin); err != nil {
		t.Fatal(err)
	}
	if err := testutil.BuildSeccompHelper(dir); err != nil {
		t.Fatal(err)
	}
	env := slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "NUCLEUS_SECCOMP=") })
	run := func(root string, args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--root", root, "run", "--rm"}, append(args, "--", "/bin/true")...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	warm := t.TempDir()
	if out, err := run(warm); err != nil {
		t.Fatalf("run with nucleus-seccomp beside nucleus: %v\n%s", err, out)
	}
	if err := os.Remove(filepath.Join(dir, "nucleus-seccomp")); err != nil {
		t.Fatal(err)
	}
	if out, err := run(warm); err != nil {
		t.Errorf("run on a warm BPF cache without nucleus-seccomp: %v\n%s", err, out)
	}
	out, err := run(t.TempDir())
	// and how to build and install all of them (a plain go build of
	// ./cmd/nucleus builds nucleus alone).
	install := "`make build` builds them all into bin/ (go build ./cmd/nucleus builds nucleus alone), then " +
		"`install -m 0755 bin/nucleus bin/nucleus-init bin/nucleus-compose bin/nucleus-seccomp bin/nucleus-image " + dir + "/`"
	if err == nil || !strings.Contains(out, "nucleus-seccomp, expected next to "+bin) || !strings.Contains(out, install) {
		t.Errorf("run on a cold cache without nucleus-seccomp: %v\n%s\nwant an error naming nucleus-seccomp, where it was expected and %q", err, out, install)
	}
	if out, err := run(t.TempDir(), "--seccomp", "unconfined"); err != nil {
		t.Errorf("run --seccomp unconfined without nucleus-seccomp: %v\n%s", err, out)
	}
}
