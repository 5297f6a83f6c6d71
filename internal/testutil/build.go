package testutil

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// StartHelper re-executes the test binary running only the test named
// helper, with env added and its stderr on ours, and returns the process
// and the first line it prints that starts with prefix. A helper that exits
// or prints no such line within timeout is killed and fails the test.
func StartHelper(t testing.TB, helper, prefix string, timeout time.Duration, env ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", helper, err)
	}
	lines := make(chan string, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), prefix) {
				lines <- sc.Text()
				return
			}
		}
	}()
	select {
	case l, ok := <-lines:
		if ok {
			return cmd, l
		}
		_ = cmd.Wait()
		t.Fatalf("%s exited without printing a line %q...", helper, prefix)
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("%s printed no line %q... within %v", helper, prefix, timeout)
	}
	return nil, ""
}

// SeccompHelperEnv is runtime/seccomp.HelperEnv (testutil imports none of
// the product's packages).
const SeccompHelperEnv = "NUCLEUS_SECCOMP"

// BuildSeccompHelper builds nucleus-seccomp, the seccomp filter compiler
// nucleus runs from beside itself, into dir.
func BuildSeccompHelper(dir string) error {
	return GoBuild(filepath.Join(dir, "nucleus-seccomp"), "nucleus/cmd/nucleus-seccomp", true)
}

// UseSeccompHelper builds nucleus-seccomp into dir and names it by
// $NUCLEUS_SECCOMP, for code under test that starts sandboxes in the test
// process (a test binary has no helper beside it). Already set (a helper
// process a test started, the cgroup v2 VM's installed one): kept.
func UseSeccompHelper(dir string) error {
	if os.Getenv(SeccompHelperEnv) != "" {
		return nil
	}
	if err := BuildSeccompHelper(dir); err != nil {
		return err
	}
	return os.Setenv(SeccompHelperEnv, filepath.Join(dir, "nucleus-seccomp"))
}

// RunWithComposeHelper is the body of a TestMain whose code under test
// converts compose files: nucleus-compose, which does that in its own
// process, is built into a fresh directory and named by $NUCLEUS_COMPOSE
// (a test binary has none beside it).
func RunWithComposeHelper(m *testing.M) int {
	return RunWithBinaries(m, "nucleus-compose-", UseComposeHelper)
}

// UseComposeHelper builds nucleus-compose into dir and names it by
// $NUCLEUS_COMPOSE.
func UseComposeHelper(dir string) error {
	p := filepath.Join(dir, "nucleus-compose")
	if err := GoBuild(p, "nucleus/cmd/nucleus-compose", false); err != nil {
		return err
	}
	return os.Setenv("NUCLEUS_COMPOSE", p)
}

// RunWithImageHelper is the body of a TestMain whose code under test pulls
// images or unpacks their trees through image/pullapi: nucleus-image,
// which does that in its own process, is built into a fresh directory and
// named by $NUCLEUS_IMAGE (a test binary has none beside it).
func RunWithImageHelper(m *testing.M) int {
	return RunWithBinaries(m, "nucleus-image-", UseImageHelper)
}

// UseImageHelper builds nucleus-image into dir and names it by
// $NUCLEUS_IMAGE.
func UseImageHelper(dir string) error {
	p := filepath.Join(dir, "nucleus-image")
	if err := GoBuild(p, "nucleus/cmd/nucleus-image", false); err != nil {
		return err
	}
	return os.Setenv("NUCLEUS_IMAGE", p)
}

// AssertNotLinked fails t for every package of `go list -deps pkg` that is
// one of prefixes or under one; why says where it belongs instead.
func AssertNotLinked(t *testing.T, pkg string, prefixes []string, why string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, p := range prefixes {
			if dep == p || strings.HasPrefix(dep, p+"/") {
				t.Errorf("%s links %s; %s", pkg, dep, why)
			}
		}
	}
}
