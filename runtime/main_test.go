package runtime

import (
	"nucleus/internal/keeper"
	"os"
	"path/filepath"
	"testing"

	"nucleus/internal/testutil"
)

// TestMain builds the small nucleus-init the tests' sandboxes run as PID 1
// (like a real install), and also lets the test binary serve as the init
// for the fallback path (TestSelfInitFallback re-executes /proc/self/exe).
func TestMain(m *testing.M) {
	keeper.MaybeRun() // a project user namespace a test started
	if os.Getenv(wireVethEnv) != "" {
		wireVeth() // TestRootlessProjectUserNS's veth, through nsenter
	}
	if IsInit() {
		InitMain()
	}
	if os.Getenv(InitBinaryEnv) != "" {
		// A helper process a test started (and may SIGKILL): it uses the
		// init its parent built, and leaves no directory of its own.
		os.Exit(m.Run())
	}
	code := testutil.RunWithBinaries(m, "nucleus-init-", func(dir string) error {
		bin := filepath.Join(dir, "nucleus-init")
		if err := testutil.GoBuild(bin, "nucleus/cmd/nucleus-init", true); err != nil {
			return err
		}
		if err := testutil.UseSeccompHelper(dir); err != nil {
			return err
		}
		return os.Setenv(InitBinaryEnv, bin)
	})
	if probeDir != "" && probeErr == nil {
		os.RemoveAll(probeDir)
	}
	os.Exit(code)
}
