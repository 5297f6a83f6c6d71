package api

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/reconcile/reconciletest"
	"nucleus/spec"
)

// fakeParts are supervisors over w's fakes.
func fakeParts(t *testing.T, w *reconciletest.World) Parts {
	return Parts{Inspect: reconciletest.Inspect, NewSupervisor: func(root rootdir.Root, project string) (*reconcile.Supervisor, error) {
		return reconciletest.NewSupervisor(t, w, root, project), nil
	}}
}

// fakeInstance starts an instance of project from yaml whose supervisor
// runs reconciletest's fakes (no root, no kernel objects), and runs it.
// The returned channel gets Run's result.
func fakeInstance(t *testing.T, w *reconciletest.World, root rootdir.Root, project, yaml string) (*Instance, <-chan error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "nucleus.yaml")
	testutil.WriteFile(t, file, yaml)
	in, err := Start(Options{Root: root, Project: project, Parts: fakeParts(t, w),
		Load: func() (*spec.Project, error) {
			return spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: project})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- in.Run(context.Background()) }()
	return in, runErr
}

// applied is a project of fakeYAML run by an instance over reconciletest's
// fakes, dialled through its owner's socket, its files applied once.
type applied struct {
	w      *reconciletest.World
	root   rootdir.Root
	in     *Instance
	runErr <-chan error
	c      *Client
	ctx    context.Context
	res    *ApplyResponse
}

func applyFake(t *testing.T, project string) *applied {
	t.Helper()
	a := &applied{w: reconciletest.NewWorld(), root: testutil.TempRoot(t)}
	a.in, a.runErr = fakeInstance(t, a.w, a.root, project, fakeYAML)
	t.Cleanup(a.in.Close)
	a.c = dialOwner(t, a.root, project)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	a.ctx = ctx
	res, err := a.c.Apply(ctx, nil)
	if err != nil || res.ApplyError != "" || res.LoadError != "" {
		t.Fatalf("apply: %+v %v", res, err)
	}
	a.res = res
	return a
}

const fakeYAML = `services:
  db:
    command: ["/bin/sleep", "1000"]
  web:
    command: ["/bin/sleep", "1000"]
    depends_on: [db]
`

// TestInstanceLifecycle drives an instance through its socket as the CLI
// does, over fake sandboxes: apply reports the first pass's steps; status
// shapes the records (state, PID, the runtime's fields, the project
// record); stop keeps a replica stopped through later passes until start;
// a second instance is refused; down stops in reverse dependency order,
// removes records, socket and lock, and Run ends with ErrDown.
func TestInstanceLifecycle(t *testing.T) {
	const project = "shop"
	a := applyFake(t, project)
	w, root, in, runErr, c, ctx, res := a.w, a.root, a.in, a.runErr, a.c, a.ctx, a.res
	if !strings.HasPrefix(res.Digest, "sha256:") {
		t.Fatalf("apply: digest %q, want sha256:...", res.Digest)
	}
	var steps []string
	for _, s := range res.Steps {
		steps = append(steps, s.String())
	}
	if strings.Join(steps, "|") != "create network default: new network|start db: new service|start web: new service" {
		t.Errorf("apply reported steps %q, want the network, then db, then web", steps)
	}
	if db, web := w.Index("start shop.db.1"), w.Index("create shop.web.1"); db < 0 || web < db {
		t.Errorf("web created before db started: %v", w.Events())
	}

	status := func() map[string]reconcile.ReplicaStatus {
		t.Helper()
		st, err := c.Status(ctx)
		if err != nil || st.Project != project || st.PID != os.Getpid() || st.Record == nil || st.Record.Digest != res.Digest {
			t.Fatalf("status: %+v %v; want project %s, supervisor pid %d, record of digest %s", st, err, project, os.Getpid(), res.Digest)
		}
		out := map[string]reconcile.ReplicaStatus{}
		for _, r := range st.Replicas {
			out[r.Name] = r
		}
		return out
	}
	st := status()
	for _, name := range []string{"db-1", "web-1"} {
		r := st[name]
		if r.State != reconcile.StateRunning || r.PID != os.Getpid() || r.Seccomp != "fake" || r.LandlockABI != 7 || r.Hash == "" {
			t.Errorf("%s after apply: %+v; want running with the fake's pid and confinement", name, r)
		}
	}
	if len(st) != 2 {
		t.Errorf("status lists %d replicas, want 2: %v", len(st), st)
	}

	if err := c.Stop(ctx, []string{"web"}); err != nil {
		t.Fatal(err)
	}
	if s := status()["web-1"]; s.State != reconcile.StateStopped || s.PID != 0 {
		t.Fatalf("web after stop: %+v, want stopped without a pid", s)
	}
	if _, err := in.Runner().Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if s := status()["web-1"]; s.State != reconcile.StateStopped {
		t.Fatalf("a pass started the stopped web: %+v", s)
	}
	if err := c.Start(ctx, []string{"web"}); err != nil {
		t.Fatal(err)
	}
	if s := status()["web-1"]; s.State != reconcile.StateRunning || w.Count("create shop.web.1") != 2 {
		t.Fatalf("web after start: %+v, creates %d; want running in a second sandbox", s, w.Count("create shop.web.1"))
	}
	if err := c.Restart(ctx, []string{"db"}); err != nil {
		t.Fatal(err)
	}
	if n := w.Count("create shop.db.1"); n != 2 {
		t.Errorf("db created %d times after a restart, want 2: %v", n, w.Events())
	}

	downOverAPI(ctx, t, c, in, root, runErr)
	webStop, dbStop := lastIndex(w.Events(), "stop shop.web.1"), lastIndex(w.Events(), "stop shop.db.1")
	if webStop < 0 || dbStop < webStop || w.Index("remove-project shop") < dbStop {
		t.Errorf("down events %v: want web stopped, then db, then the project's networks removed", w.Events())
	}
	assertDownLeftNothing(t, root, SocketPath(root, project))
}

// TestInstanceDownWithSomethingLeft: when the runtime reports a sandbox of
// the project left after removal, down fails naming it, Run does not
// claim ErrDown, and the records stay for the next down (issue 11,
// defect 9: no command claims success with something left), which then
// works from the records without a supervisor.
func TestInstanceDownWithSomethingLeft(t *testing.T) {
	const project = "left"
	a := applyFake(t, project)
	w, root, in, runErr, c, ctx := a.w, a.root, a.in, a.runErr, a.c, a.ctx
	w.SetLeftover(fmt.Errorf("sandbox left.web.9 of project left is left after removal"))
	err := c.Down(ctx, root, DownOptions{})
	if err == nil || !strings.Contains(err.Error(), "left.web.9") {
		t.Fatalf("down with a sandbox left: %v, want an error naming it", err)
	}
	if err := <-runErr; err == nil || errors.Is(err, ErrDown) || !strings.Contains(err.Error(), "left.web.9") {
		t.Errorf("Run after a failed down = %v, want the failure, not ErrDown", err)
	}
	if names, _ := reconcile.NewStore(root).Projects(); len(names) != 1 {
		t.Errorf("records after a failed down: %v, want the project kept", names)
	}

	// With the supervisor gone, the next down works from the records and
	// removes what the failed one left.
	in.Close()
	w.SetLeftover(nil)
	if err := fakeParts(t, w).Down(ctx, root, project, DownOptions{}); err != nil {
		t.Fatalf("down from the records: %v", err)
	}
	if w.Index("remove-project left") < 0 {
		t.Errorf("down from the records did not remove the project's networks: %v", w.Events())
	}
	assertDownLeftNothing(t, root, LockPath(root, project))
}

// TestDownWithoutSupervisor: a supervisor that ended (sandboxes keep
// running) leaves down to the records: it adopts every replica, stops it
// and removes the project, as `nucleus down` does after a kill.
func TestDownWithoutSupervisor(t *testing.T) {
	const project = "gone"
	a := applyFake(t, project)
	w, root, in, runErr, ctx := a.w, a.root, a.in, a.runErr, a.ctx
	in.Close()
	if err := <-runErr; err != nil {
		t.Fatalf("Run of a closed instance = %v, want nil (sandboxes keep running)", err)
	}
	if w.Count("stop ") != 0 {
		t.Fatalf("closing the instance stopped sandboxes: %v", w.Events())
	}
	st, err := fakeParts(t, w).Status(ctx, root, project, nil)
	if err != nil || st.PID != 0 || len(st.Replicas) != 2 || st.Replicas[0].State != reconcile.StateRunning || st.Replicas[0].Seccomp != "fake" {
		t.Fatalf("status from the records: %+v %v; want two running replicas and no supervisor", st, err)
	}
	if err := fakeParts(t, w).Down(ctx, root, project, DownOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"gone.db.1", "gone.web.1"} {
		if a, s := w.Index("adopt "+r), w.Index("stop "+r); a < 0 || s < a {
			t.Errorf("%s: adopted at event %d, stopped at %d; want adopted, then stopped: %v", r, a, s, w.Events())
		}
	}
	assertDownLeftNothing(t, root, SocketPath(root, project), LockPath(root, project))
}

// assertDownLeftNothing checks that no project has records in root and
// that paths (and the api's directory) are gone.
func assertDownLeftNothing(t *testing.T, root rootdir.Root, paths ...string) {
	t.Helper()
	if names, err := reconcile.NewStore(root).Projects(); err != nil || len(names) != 0 {
		t.Errorf("records after down: %v %v", names, err)
	}
	for _, p := range append(paths, Dir(root)) {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left after down: %v", p, err)
		}
	}
}

// dialOwner checks that the running instance owns project (a second one
// is refused naming this process, its socket is private) and dials it.
func dialOwner(t *testing.T, root rootdir.Root, project string) *Client {
	t.Helper()
	var running *ErrRunning
	if _, err := Start(Options{Root: root, Project: project}); !errors.As(err, &running) || running.PID != os.Getpid() {
		t.Fatalf("second instance: %v, want ErrRunning naming pid %d", err, os.Getpid())
	}
	if fi, err := os.Stat(SocketPath(root, project)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v, want mode 0600", fi, err)
	}
	c, err := Dial(root, project)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// downOverAPI takes the project down through c as `nucleus down` does:
// Run ends with ErrDown, the client returns once the owner closed the
// instance, and the lock file is gone.
func downOverAPI(ctx context.Context, t *testing.T, c *Client, in *Instance, root rootdir.Root, runErr <-chan error) {
	t.Helper()
	downErr := make(chan error, 1)
	go func() { downErr <- c.Down(ctx, root, DownOptions{}) }()
	if err := <-runErr; !errors.Is(err, ErrDown) {
		t.Errorf("Run after down = %v, want ErrDown", err)
	}
	in.Close()
	if err := <-downErr; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(LockPath(root, c.Project)); !os.IsNotExist(err) {
		t.Errorf("lock file left after down: %v", err)
	}
}

func lastIndex(events []string, prefix string) int {
	for i := len(events) - 1; i >= 0; i-- {
		if strings.HasPrefix(events[i], prefix) {
			return i
		}
	}
	return -1
}

// While the supervisor creates a replica's sandbox (its intent record is
// written, no init yet), ps over the socket shows it as creating, not dead.
func TestStatusShowsReplicaBeingCreated(t *testing.T) {
	const project = "mid"
	w, root := reconciletest.NewWorld(), testutil.TempRoot(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	w.OnCreate(func() {
		entered <- struct{}{}
		<-release
	})
	in, runErr := fakeInstance(t, w, root, project, "services:\n  web:\n    command: [\"/bin/sleep\", \"1000\"]\n")
	t.Cleanup(in.Close)
	c := dialOwner(t, root, project)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	applied := make(chan error, 1)
	go func() { _, err := c.Apply(ctx, nil); applied <- err }()
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("the sandbox was never created")
	}
	st, err := Status(ctx, root, project, nil)
	close(release)
	if err != nil || len(st.Replicas) != 1 || st.Replicas[0].State != reconcile.StateCreating || st.Replicas[0].PID != 0 {
		t.Errorf("status while web-1 is created: %+v %v; want web-1 creating, no PID", st, err)
	}
	if err := <-applied; err != nil {
		t.Fatal(err)
	}
	if st, err := Status(ctx, root, project, nil); err != nil || len(st.Replicas) != 1 || st.Replicas[0].State != reconcile.StateRunning {
		t.Errorf("status after the apply: %+v %v; want web-1 running", st, err)
	}
	downOverAPI(ctx, t, c, in, root, runErr)
	assertDownLeftNothing(t, root, SocketPath(root, project))
}
