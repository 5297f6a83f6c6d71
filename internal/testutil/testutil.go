// Package testutil holds helpers shared by kernel and end-to-end tests.
package testutil

import (
	"os"
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
