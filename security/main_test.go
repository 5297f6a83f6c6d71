package security

import (
	"os"
	"path/filepath"
	"testing"

	"nucleus/internal/testutil"
)

// Built once per test binary by TestMain: the nucleus binary, its init and
// nucleus-seccomp (side by side, as installed), and the probe in a directory of its own,
// bind-mounted read-only at /probe.
var (
	nucleusBin string // DIR/nucleus
	initBin    string // DIR/nucleus-init
	probeDir   string // DIR/probe, holding escape-probe
)

const probePath = "/probe/escape-probe"

func TestMain(m *testing.M) {
	os.Exit(testutil.RunWithBinaries(m, "nucleus-security-", func(dir string) error {
		nucleusBin, initBin = filepath.Join(dir, "nucleus"), filepath.Join(dir, "nucleus-init")
		probeDir = filepath.Join(dir, "probe")
		if err := os.Mkdir(probeDir, 0o755); err != nil {
			return err
		}
		if err := testutil.GoBuild(nucleusBin, "nucleus/cmd/nucleus", false); err != nil {
			return err
		}
		if err := testutil.BuildSeccompHelper(dir); err != nil { // beside nucleus, as installed
			return err
		}
		if err := testutil.GoBuild(initBin, "nucleus/cmd/nucleus-init", false); err != nil {
			return err
		}
		return testutil.GoBuild(filepath.Join(probeDir, "escape-probe"), "./testdata/escape-probe", false)
	}))
}
