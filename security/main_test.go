package security

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Built once per test binary by TestMain: the nucleus binary and its init
// (side by side, as installed), and the probe in a directory of its own,
// bind-mounted read-only at /probe.
var (
	nucleusBin string // DIR/nucleus
	initBin    string // DIR/nucleus-init
	probeDir   string // DIR/probe, holding escape-probe
)

const probePath = "/probe/escape-probe"

// build runs `go build -o OUT PKG` (in that order: the cgroup v2 VM has no
// Go and replaces `go` by a shim handing out prebuilt binaries by name).
func build(out, pkg string, cgo bool) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = os.Environ()
	if !cgo {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nucleus-security-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.Chmod(dir, 0o755)
	nucleusBin, initBin = filepath.Join(dir, "nucleus"), filepath.Join(dir, "nucleus-init")
	probeDir = filepath.Join(dir, "probe")
	err = os.Mkdir(probeDir, 0o755)
	if err == nil {
		err = build(nucleusBin, "nucleus/cmd/nucleus", true)
	}
	if err == nil {
		err = build(initBin, "nucleus/cmd/nucleus-init", false)
	}
	if err == nil {
		err = build(filepath.Join(probeDir, "escape-probe"), "./testdata/escape-probe", false)
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}
