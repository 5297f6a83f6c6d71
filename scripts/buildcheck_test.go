// Package scripts_test checks the Makefile's build prerequisites check
// (scripts/build-check.sh, run by `make build`) by simulating a machine
// that lacks them: nothing is uninstalled.
package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// makeBuild runs `make -s build` in the repository with env added and a
// fake Go that answers `go env` with the real one and otherwise records
// that a build was attempted. It returns make's output, whether make
// succeeded, and whether a build was attempted.
func makeBuild(t *testing.T, env ...string) (out string, ok, built bool) {
	t.Helper()
	_, err := exec.LookPath("make")
	testutil.Require(t, err == nil, "make")
	realGo, err := exec.LookPath("go")
	testutil.Require(t, err == nil, "go in PATH")
	dir := t.TempDir()
	marker := filepath.Join(dir, "built")
	fake := filepath.Join(dir, "go")
	script := "#!/bin/sh\nif [ \"$1\" = env ]; then exec " + realGo + " \"$@\"; fi\necho \"$@\" >> " + marker + "\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-s", "-C", "..", "build", "GO="+fake)
	cmd.Env = append(cleanEnv(), env...)
	b, err := cmd.CombinedOutput()
	_, serr := os.Stat(marker)
	return string(b), err == nil, serr == nil
}

// cleanEnv is the environment without what a calling make (make test)
// passes down, so the output is the same as from a shell.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" && k != "MAKEOVERRIDES" {
			env = append(env, kv)
		}
	}
	return env
}

// checkFails: make build stops before building, with one line naming want
// and telling to run make deps as root.
func checkFails(t *testing.T, want string, env ...string) {
	t.Helper()
	out, ok, built := makeBuild(t, env...)
	if ok || built {
		t.Fatalf("make build with %v: succeeded %v, built %v, want it to stop first (output %q)", env, ok, built, out)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 1 {
		t.Errorf("make build with %v printed %d lines, want one:\n%s", env, len(lines), out)
	}
	for _, w := range []string{want, "run make deps as root"} {
		if !strings.Contains(out, w) {
			t.Errorf("make build with %v: %q, want it to say %q", env, out, w)
		}
	}
	if strings.Contains(out, "Package libseccomp was not found") {
		t.Errorf("pkg-config's own error reached the user: %q", out)
	}
}

// A machine with the packages installed (CI: make deps ran) passes the
// check and builds; without it the failures below prove nothing.
func TestBuildCheckPasses(t *testing.T) {
	err := exec.Command("sh", "build-check.sh").Run()
	testutil.Require(t, err == nil, "the build prerequisites (make deps)")
	out, ok, built := makeBuild(t)
	if !ok || !built {
		t.Fatalf("make build: succeeded %v, built %v: %s", ok, built, out)
	}
}

// Issue 11, defect 11: on a fresh machine `make build` stopped with
// pkg-config's "Package libseccomp was not found" halfway through.
func TestBuildCheckMissingLibseccomp(t *testing.T) {
	// PKG_CONFIG_LIBDIR replaces pkg-config's search path: no .pc file is found.
	checkFails(t, "libseccomp for pkg-config (libseccomp-dev)", "PKG_CONFIG_LIBDIR="+t.TempDir())
}

func TestBuildCheckMissingPkgConfig(t *testing.T) {
	checkFails(t, "nucleus-no-pkg-config (pkg-config)", "PKG_CONFIG=nucleus-no-pkg-config")
}

func TestBuildCheckMissingCompiler(t *testing.T) {
	// cgo takes its compiler from CC (go env CC).
	checkFails(t, "C compiler nucleus-no-cc (gcc)", "CC=nucleus-no-cc")
}

func TestBuildCheckMissingGo(t *testing.T) {
	_, err := exec.LookPath("make")
	testutil.Require(t, err == nil, "make")
	cmd := exec.Command("make", "-s", "-C", "..", "build", "GO=nucleus-no-go")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 || !strings.Contains(string(out), "install Go 1.26") {
		t.Errorf("make build without Go: %v, %q; want one line saying to install Go 1.26", err, out)
	}
}
