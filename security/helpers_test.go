package security

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"nucleus/internal/leaktest"
	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/runtime"
)

// env is one test's state root for the nucleus binary. When the test ends
// it checks that nothing of the root is left (sandboxes, cgroups, mounts,
// networks, nftables tables) and releases the root's uid ranges.
type env struct {
	t    *testing.T
	dir  string // --root
	root rootdir.Root
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvAt(t, t.TempDir())
}

// newEnvAt is newEnv with the state root in dir.
func newEnvAt(t *testing.T, dir string) *env {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.Require(t, testutil.FileExists("/bin/busybox"), "/bin/busybox (busybox-static)")
	e := &env{t: t, dir: dir, root: rootdir.Resolve(dir)}
	t.Cleanup(func() {
		leaktest.Check(t, e.root)
		var r struct{ Projects map[string]uint32 }
		b, _ := os.ReadFile(filepath.Join(e.root.Data, "idranges.json"))
		_ = json.Unmarshal(b, &r)
		for p := range r.Projects {
			if err := runtime.ReleaseProjectIDRange(e.root, p); err != nil {
				t.Errorf("release uid range of %s: %v", p, err)
			}
		}
	})
	return e
}

type cmdResult struct {
	out, err string
	code     int
}

// nucleus runs the binary with this root; opt may adjust the command
// (working directory, extra files, terminal) before it starts.
func (e *env) nucleus(opt func(*exec.Cmd), args ...string) cmdResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nucleusBin, append([]string{"--root", e.dir}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if opt != nil {
		opt(cmd)
	}
	err := cmd.Run()
	r := cmdResult{out: out.String(), err: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("nucleus %v: %v", args, err)
	}
	return r
}

// probe runs the probe with the given attempts in a new sandbox (`nucleus
// run` with runFlags, the probe mounted at /probe) and decodes its report.
func (e *env) probe(opt func(*exec.Cmd), runFlags []string, attempts ...string) map[string]string {
	e.t.Helper()
	args := append([]string{"run", "-v", probeDir + ":/probe:ro"}, runFlags...)
	args = append(append(args, "--", probePath), attempts...)
	r := e.nucleus(opt, args...)
	if r.code != 0 {
		e.t.Fatalf("nucleus %v: exit %d\n%s%s", args, r.code, r.out, r.err)
	}
	return decode(e.t, r.out)
}

func decode(t *testing.T, out string) map[string]string {
	t.Helper()
	var m map[string]string
	out = strings.ReplaceAll(out, "\r", "")
	if i := strings.LastIndex(out, "\n{"); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("probe report %q: %v", out, err)
	}
	return m
}

// attempt is one thing an attacker inside the sandbox tries, the protection
// expected to refuse it, and the outcomes that count as refused.
type attempt struct {
	label string // key in the probe's report
	spec  string // KIND[,ARG...] for the probe
	want  []string
}

func (a attempt) arg() string { return a.label + "=" + a.spec }

func args(as []attempt) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.arg())
	}
	return out
}

// check reports every attempt whose outcome is not one of those wanted.
func check(t *testing.T, got map[string]string, as []attempt) {
	t.Helper()
	for _, a := range as {
		if !slices.Contains(a.want, got[a.label]) {
			t.Errorf("%s (%s): got %q, want one of %q", a.label, a.spec, got[a.label], a.want)
		}
	}
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
