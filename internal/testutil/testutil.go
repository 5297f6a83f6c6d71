// Package testutil holds helpers shared by kernel and end-to-end tests.
package testutil

import (
	"os"
	"os/exec"
	"testing"

	"nucleus/internal/rootdir"
)

// InCI reports whether the tests run in CI, where a missing prerequisite is a
// failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") != "" }

// Require skips the test when ok is false, or fails it in CI: kernel tests
// must not silently pass on a machine that cannot run them.
func Require(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("prerequisite missing in CI: %s", what)
	}
	t.Skipf("prerequisite missing: %s", what)
}

// RequireRoot requires uid 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "running as root")
}

// TempRoot returns a fresh state root under the test's temporary directory.
func TempRoot(t testing.TB) rootdir.Root {
	t.Helper()
	return rootdir.Resolve(t.TempDir())
}

// RequireBinary requires the program name on $PATH (or at that path);
// hint says which package brings it.
func RequireBinary(t testing.TB, name, hint string) {
	t.Helper()
	_, err := exec.LookPath(name)
	Require(t, err == nil, name+" installed ("+hint+")")
}

// Run runs a program and returns its combined output; a failure fails the
// test with that output.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
