package testutil

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// GoBuild runs `go build -o OUT PKG` (in that order: the cgroup v2 VM has
// no Go and replaces `go` by a shim handing out prebuilt binaries by name).
// Without cgo the binary is static, for use inside a sandbox.
func GoBuild(out, pkg string, cgo bool) error {
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

// RunWithBinaries is the body of a TestMain whose tests run real binaries:
// build puts them into a fresh directory (readable by the mapped users of
// sandboxes), the tests run, the directory goes. It returns the exit code;
// a failed build is reported and fails the run.
func RunWithBinaries(m *testing.M, prefix string, build func(dir string) error) int {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o755)
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// RunChild re-executes the test binary with no test selected and env added:
// its TestMain (or an init) runs the scenario env names and prints a JSON
// report on stdout, which RunChild decodes. A child that fails or prints
// no report fails the test; what names the scenario in messages.
func RunChild[R any](t testing.TB, what string, env ...string) R {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v (output %q)", what, err, out)
	}
	var rep R
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("child %s: bad report %q: %v", what, out, err)
	}
	return rep
}
