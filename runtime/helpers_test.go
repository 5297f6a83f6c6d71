package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"nucleus/runtime/landlock"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
)

var (
	probeOnce sync.Once
	probeDir  string
	probeErr  error
)

// probe builds testdata/probe (static) once per test binary and returns the
// directory holding it, to be mounted read-only at /probe.
func probe(t *testing.T) string {
	t.Helper()
	probeOnce.Do(func() {
		probeDir, probeErr = os.MkdirTemp("", "nucleus-probe-")
		if probeErr != nil {
			return
		}
		_ = os.Chmod(probeDir, 0o755)
		cmd := exec.Command("go", "build", "-o", filepath.Join(probeDir, "probe"), "./testdata/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			probeErr = err
			probeDir = string(out)
		}
	})
	if probeErr != nil {
		t.Fatalf("build probe: %v: %s", probeErr, probeDir)
	}
	return probeDir
}

// service returns a service with nucleus's defaults (what the spec loader
// and host.SandboxConfig would produce) running args.
func service(args ...string) Service {
	return Service{Name: "t", Process: Process{Args: args}, ReadOnly: true,
		Security: Security{Seccomp: SeccompDefault, Landlock: landlock.Config{Mode: landlock.ModeDefault}}}
}

// probeMount mounts the probe binary read-only at /probe.
func probeMount(t *testing.T) ResolvedMount {
	return ResolvedMount{Type: MountBind, Source: probe(t), Target: "/probe", ReadOnly: true}
}

// newRoot returns a fresh state root whose leftovers are checked at the end.
func newRoot(t *testing.T) rootdir.Root {
	t.Helper()
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	t.Cleanup(func() {
		assertNoLeaks(t, root)
		releaseIDRanges(t, root)
	})
	return root
}

func assertNoLeaks(t *testing.T, root rootdir.Root) {
	t.Helper()
	leaks, err := LeakCheck(root)
	if err != nil {
		t.Errorf("leak check: %v", err)
	}
	if len(leaks) > 0 {
		t.Errorf("left behind: %v", leaks)
	}
}

// startSandbox creates and starts a sandbox of project "p" (unless cfg names
// one) and removes it when the test ends, before newRoot's leak check.
func startSandbox(t *testing.T, cfg Config) *Sandbox {
	t.Helper()
	if cfg.Project == "" {
		cfg.Project = "p"
	}
	ctx := context.Background()
	sb, err := Create(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Remove(ctx) })
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	return sb
}

type result struct {
	out, err string
	st       ExitStatus
	sb       *Sandbox
}

// run creates, starts and waits for a sandbox, then removes it.
func run(t *testing.T, cfg Config) result {
	t.Helper()
	var out, errb bytes.Buffer
	if cfg.Stdout == nil {
		cfg.Stdout, cfg.Stderr = &out, &errb
	}
	if cfg.ID == "" {
		cfg.ID = "t" + time.Now().Format("150405.000000")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sb, err := Create(ctx, cfg)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := sb.Start(); err != nil {
		_ = sb.Remove(ctx)
		t.Fatalf("start: %v", err)
	}
	st, err := sb.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if err := sb.Remove(ctx); err != nil {
		t.Fatalf("remove: %v", err)
	}
	return result{out: out.String(), err: errb.String(), st: st, sb: sb}
}

// runProbe runs the probe with extra args and decodes its report.
func runProbe(t *testing.T, cfg Config, args ...string) map[string]string {
	t.Helper()
	if cfg.Service.Name == "" { // none given: the defaults
		cfg.Service = service()
	}
	cfg.Service.Process.Args = append([]string{"/probe/probe"}, args...)
	cfg.Mounts = append(cfg.Mounts, probeMount(t))
	r := run(t, cfg)
	if r.st.Code != 0 {
		t.Fatalf("probe exited %+v: %s %s", r.st, r.out, r.err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(r.out), &m); err != nil {
		t.Fatalf("probe output %q: %v (stderr %s)", r.out, err, r.err)
	}
	return m
}

// sh runs a busybox shell script in a default sandbox.
func sh(t *testing.T, root rootdir.Root, script string) result {
	t.Helper()
	return run(t, Config{Root: root, Project: "p", Service: service("/bin/busybox", "sh", "-c", script)})
}
