package runtime

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as the sandbox init, like the nucleus
// binary does (Create re-executes /proc/self/exe).
func TestMain(m *testing.M) {
	if IsInit() {
		InitMain()
	}
	code := m.Run()
	if probeDir != "" && probeErr == nil {
		os.RemoveAll(probeDir)
	}
	os.Exit(code)
}
