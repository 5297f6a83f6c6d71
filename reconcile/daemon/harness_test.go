package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"nucleus/internal/leaktest"
	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/reconcile/api"
	"nucleus/reconcile/daemon"
	"nucleus/runtime/runtimetest"
)

// TestMain lets the test binary serve as the sandbox init.
func TestMain(m *testing.M) { runtimetest.Main(m) }

// projectYAML is a project of sleeping services; MODE goes into the
// environment of the first one, so an edit restarts it.
func projectYAML(name, mode string, services ...string) string {
	var b strings.Builder
	if name != "" {
		fmt.Fprintf(&b, "name: %s\n", name)
	}
	b.WriteString("services:\n")
	for i, s := range services {
		fmt.Fprintf(&b, "  %s:\n    command: [\"/bin/sleep\", \"1000\"]\n    stop_signal: SIGKILL\n    stop_grace_period: 100ms\n", s)
		if i == 0 {
			fmt.Fprintf(&b, "    environment: {MODE: %q}\n", mode)
		}
	}
	return b.String()
}

// env is one test's world: a state root, a tree, a network manager, and
// at most one daemon at a time.
type env struct {
	t      *testing.T
	root   rootdir.Root
	tree   string
	tag    string // makes project names unique on the host
	scans  atomic.Int64
	cancel context.CancelFunc
	done   chan error
	d      *daemon.Daemon
	policy daemon.Policy // the policy the next start uses
}

func newEnv(t *testing.T) *env {
	testutil.RequireRoot(t)
	e := &env{t: t, root: testutil.TempRoot(t), tree: t.TempDir(), tag: fmt.Sprintf("%d", os.Getpid()%100000)}
	t.Cleanup(e.cleanup)
	return e
}

// start runs a daemon over the tree until stop.
func (e *env) start() {
	e.t.Helper()
	d, err := daemon.New(daemon.Options{
		Dir: e.tree, Root: e.root, Policy: e.policy,
		OnScan: func(daemon.ScanResult) { e.scans.Add(1) },
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.d, e.cancel, e.done = d, cancel, make(chan error, 1)
	go func() { e.done <- d.Run(ctx) }()
}

// stop ends the daemon (services keep running).
func (e *env) stop() {
	e.t.Helper()
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("daemon: %v", err)
	}
	e.cancel = nil
}

// cleanup stops the daemon, brings down whatever is recorded and checks
// that nothing of the state root is left on the host.
func (e *env) cleanup() {
	e.stop()
	ctx := context.Background()
	names, _ := reconcile.NewStore(e.root).Projects()
	for _, n := range names {
		if n == "daemon" {
			continue
		}
		if err := api.Down(ctx, e.root, n, api.DownOptions{}); err != nil {
			e.t.Errorf("down %s: %v", n, err)
		}
	}
	leaktest.Check(e.t, e.root)
}

// write puts a project file into tree/dir the way a checkout does
// (temporary file, rename), creating the directory.
func (e *env) write(dir, content string) {
	e.t.Helper()
	p := filepath.Join(e.tree, dir)
	if err := os.MkdirAll(p, 0o755); err != nil {
		e.t.Fatal(err)
	}
	tmp := filepath.Join(p, ".nucleus.yaml.new")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(p, "nucleus.yaml")); err != nil {
		e.t.Fatal(err)
	}
}

// pids maps "service-replica" to the PID of every live replica of project.
func (e *env) pids(project string) map[string]int {
	e.t.Helper()
	recs, _ := reconcile.NewStore(e.root).LoadSandboxes(project)
	out := map[string]int{}
	for _, r := range recs {
		if r.State.Alive() && r.Alive() {
			out[r.Ident().Name()] = r.InitPID
		}
	}
	return out
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	testutil.WaitFor(e.t, what, 20*time.Second, cond)
}

// waitReady waits for project name's condition Ready.
func (e *env) waitReady(name string) {
	e.t.Helper()
	e.waitFor(name+" Ready", func() bool { return e.status(name).Condition == daemon.Ready })
}

// waitStalled waits for project name to be Stalled for reason.
func (e *env) waitStalled(name, reason string) daemon.ProjectStatus {
	e.t.Helper()
	var st daemon.ProjectStatus
	e.waitFor(name+" Stalled ("+reason+")", func() bool {
		st = e.status(name)
		return st.Condition == daemon.Stalled && st.Reason == reason
	})
	return st
}

// waitRunning waits until project runs exactly n live replicas.
func (e *env) waitRunning(project string, n int) map[string]int {
	e.t.Helper()
	var got map[string]int
	e.waitFor(fmt.Sprintf("%s to run %d replicas", project, n), func() bool { got = e.pids(project); return len(got) == n })
	return got
}

// waitGone waits until project has no records left (brought down).
func (e *env) waitGone(project string, pids map[string]int) {
	e.t.Helper()
	e.waitFor(project+" to be brought down", func() bool {
		names, _ := reconcile.NewStore(e.root).Projects()
		for _, n := range names {
			if n == project {
				return false
			}
		}
		return true
	})
	for name, pid := range pids {
		if testutil.Alive(pid) {
			e.t.Errorf("%s/%s (pid %d) still runs after the project was removed", project, name, pid)
		}
	}
}

func (e *env) status(name string) daemon.ProjectStatus {
	e.t.Helper()
	rep, err := daemon.Status(e.root)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range rep.Projects {
		if p.Name == name {
			return p
		}
	}
	return daemon.ProjectStatus{}
}

func (e *env) report() *daemon.Report {
	e.t.Helper()
	rep, err := daemon.Status(e.root)
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

func samePIDs(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
