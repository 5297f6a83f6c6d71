package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMain builds the small nucleus-init the tests' sandboxes run as PID 1
// (like a real install), and also lets the test binary serve as the init
// for the fallback path (TestSelfInitFallback re-executes /proc/self/exe).
func TestMain(m *testing.M) {
	if IsInit() {
		InitMain()
	}
	if os.Getenv(InitBinaryEnv) != "" {
		// A helper process a test started (and may SIGKILL): it uses the
		// init its parent built, and leaves no directory of its own.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "nucleus-init-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "nucleus-init")
	if out, err := exec.Command("go", "build", "-o", bin, "nucleus/cmd/nucleus-init").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build nucleus-init: %v\n%s", err, out)
		os.Exit(1)
	}
	_ = os.Chmod(dir, 0o755)
	os.Setenv(InitBinaryEnv, bin)
	code := m.Run()
	os.RemoveAll(dir)
	if probeDir != "" && probeErr == nil {
		os.RemoveAll(probeDir)
	}
	os.Exit(code)
}
