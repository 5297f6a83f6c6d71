// Package bench holds the benchmark scripts; this test checks only how
// they treat their command line, never running a benchmark.
package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScriptsWithoutArgumentsSayUsage: the scripts that take no arguments
// print a usage line and their header for --help and refuse any other
// argument (exit 2); bench/run.sh --help started the 40-round benchmark.
// Each runs from a copy of bench/ with no Makefile beside it, so a script
// that ignored its argument fails at its first build instead of running.
func TestScriptsWithoutArgumentsSayUsage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	scripts, _ := filepath.Glob("*.sh")
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, s), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"run.sh", "image.sh", "inittrace.sh", "linkcost.sh", "net.sh", "reconcile.sh"} {
		for _, c := range []struct {
			arg  string
			code int
			want string
		}{
			{"--help", 0, "usage: [VAR=VALUE ...] "},
			{"-h", 0, "usage: [VAR=VALUE ...] "},
			{"fast", 2, "takes no arguments (got: fast)"},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			cmd := exec.CommandContext(ctx, "bash", filepath.Join(dir, s), c.arg)
			cmd.Dir = dir
			out, _ := cmd.CombinedOutput()
			cancel()
			if code := cmd.ProcessState.ExitCode(); code != c.code || !strings.Contains(string(out), c.want) {
				t.Errorf("%s %s: exit %d, want %d and %q:\n%s", s, c.arg, code, c.code, c.want, out)
			}
		}
	}
}
