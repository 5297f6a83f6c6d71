// Package runtimetest holds test helpers for packages whose tests start
// sandboxes through the runtime.
package runtimetest

import (
	"os"
	"testing"

	"nucleus/runtime"
)

// Main is TestMain for such packages: without an installed nucleus-init the
// runtime re-executes the test binary as the sandbox's init, so the binary
// must turn into the init before it runs tests.
func Main(m *testing.M) {
	if runtime.IsInit() {
		runtime.InitMain()
	}
	os.Exit(m.Run())
}
