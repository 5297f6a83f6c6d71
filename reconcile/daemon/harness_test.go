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
	"nucleus/reconcile/reconciletest"
	"nucleus/runtime"
)

// TestMain: the init check of runtimetest.Main (the runtime re-executes
// this binary as a sandbox init), nucleus-seccomp for the sandboxes'
// filters, and nucleus-compose for the compose projects of the tree.
func TestMain(m *testing.M) {
	if runtime.IsInit() {
		runtime.InitMain()
	}
	os.Exit(testutil.RunWithBinaries(m, "nucleus-seccomp-", func(dir string) error {
		if err := testutil.UseSeccompHelper(dir); err != nil {
			return err
		}
		return testutil.UseComposeHelper(dir)
	}))
}

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

// env is one test's world: a state root, a tree, the parts supervisors
// run on, and at most one daemon at a time.
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
	// world and parts are reconciletest's fakes (newFakeEnv); nil and
	// zero: the host's runtime and networks.
	world *reconciletest.World
	parts api.Parts
}

// newEnv runs supervisors on the host's runtime and networks (root).
func newEnv(t *testing.T) *env {
	testutil.RequireRoot(t)
	e := &env{t: t, root: testutil.TempRoot(t), tree: t.TempDir(), tag: fmt.Sprintf("%d", os.Getpid()%100000)}
	t.Cleanup(e.cleanup)
	return e
}

// newFakeEnv runs supervisors over reconciletest's fakes: the daemon's
// logic without root or kernel objects. Every replica's PID is the test
// process's, so what ran is read from the world's events.
func newFakeEnv(t *testing.T) *env {
	w := reconciletest.NewWorld()
	e := &env{t: t, root: testutil.TempRoot(t), tree: t.TempDir(), tag: "f", world: w,
		parts: api.Parts{Inspect: reconciletest.Inspect, NewSupervisor: func(root rootdir.Root, project string) (*reconcile.Supervisor, error) {
			return reconciletest.NewSupervisor(t, w, root, project), nil
		}}}
	t.Cleanup(e.cleanup)
	return e
}

// start runs a daemon over the tree until stop.
func (e *env) start() {
	e.t.Helper()
	d, err := daemon.New(daemon.Options{
		Dir: e.tree, Root: e.root, Policy: e.policy, Parts: e.parts,
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
		if err := e.parts.Down(ctx, e.root, n, api.DownOptions{}); err != nil {
			e.t.Errorf("down %s: %v", n, err)
		}
	}
	if e.world == nil {
		leaktest.Check(e.t, e.root)
		return
	}
	if names, _ := reconcile.NewStore(e.root).Projects(); len(names) > 1 || len(names) == 1 && names[0] != "daemon" {
		e.t.Errorf("records left after down: %v", names)
	}
	if _, err := os.Stat(api.Dir(e.root)); !os.IsNotExist(err) {
		e.t.Errorf("supervisor files left after down: %v", err)
	}
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

// replaceDir swaps tree/dir for a new directory holding content, as an
// atomic deploy does (staged hidden, then renamed into place).
func (e *env) replaceDir(dir, content string) {
	e.t.Helper()
	stage := filepath.Join(e.tree, "."+dir+".new") // hidden: not a project while staged
	if err := os.MkdirAll(stage, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stage, "nucleus.yaml"), []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(e.tree, dir), filepath.Join(e.tree, "."+dir+".old")); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(stage, filepath.Join(e.tree, dir)); err != nil {
		e.t.Fatal(err)
	}
}

// emptyTree moves dirs out of the tree, as a failed checkout leaves it,
// and waits for the empty-tree guard; restore moves them back and waits
// for the guard to clear.
func (e *env) emptyTree(dirs ...string) (restore func()) {
	e.t.Helper()
	away := e.t.TempDir()
	move := func(from, to string) {
		for _, d := range dirs {
			if err := os.Rename(filepath.Join(from, d), filepath.Join(to, d)); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	move(e.tree, away)
	e.waitFor("the empty-tree guard", func() bool {
		rep := e.report()
		return rep.Daemon != nil && strings.HasPrefix(rep.Daemon.Guard, "TreeEmpty")
	})
	return func() {
		e.t.Helper()
		move(away, e.tree)
		e.waitFor("the guard to clear", func() bool { return e.report().Daemon.Guard == "" })
	}
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
		if e.world == nil && testutil.Alive(pid) {
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
