package api

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/runtime/runtimetest"
	"nucleus/spec"
)

// TestMain lets the test binary serve as the sandbox init.
func TestMain(m *testing.M) { runtimetest.Main(m) }

// TestInstanceOverTheSocket drives a supervisor instance in this process
// through its socket, as the CLI does (run it with -race): apply, status,
// stop/start, a second instance refused, down through the API.
func TestInstanceOverTheSocket(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	dir := t.TempDir()
	project := fmt.Sprintf("api%d", os.Getpid()%100000)
	file := filepath.Join(dir, "nucleus.yaml")
	y := `services:
  a:
    command: ["/bin/sleep", "1000"]
    restart: always
    stop_grace_period: 0s
`
	testutil.WriteFile(t, file, y)
	load := func() (*spec.Project, error) {
		return spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: project})
	}
	in, err := Start(Options{Root: root, Project: project, Load: load})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		in.Close()
		if err := Down(context.Background(), root, project, DownOptions{}); err != nil {
			t.Error(err)
		}
		leaktest.Check(t, root)
	}()
	runErr := make(chan error, 1)
	go func() { runErr <- in.Run(context.Background()) }()

	c := dialOwner(t, root, project)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Apply(ctx, nil)
	if err != nil || res.ApplyError != "" || res.LoadError != "" {
		t.Fatalf("apply: %+v %v", res, err)
	}
	if len(res.Steps) == 0 {
		t.Errorf("apply reported no steps; the first pass started a")
	}
	status := func() reconcile.ReplicaStatus {
		t.Helper()
		st, err := c.Status(ctx)
		if err != nil || len(st.Replicas) != 1 || st.PID != os.Getpid() {
			t.Fatalf("status: %+v %v", st, err)
		}
		return st.Replicas[0]
	}
	first := status()
	if first.State != reconcile.StateRunning || first.PID == 0 {
		t.Fatalf("a after apply: %+v", first)
	}
	// Concurrent readers while a stop and a start go through.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			if _, err := c.Status(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	if err := c.Stop(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	<-done
	if s := status(); s.State != reconcile.StateStopped {
		t.Fatalf("after stop: %+v", s)
	}
	// A pass (restart: always) leaves the stopped replica alone.
	if _, err := in.Runner().Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if s := status(); s.State != reconcile.StateStopped {
		t.Fatalf("a pass restarted a stopped replica: %+v", s)
	}
	if err := c.Start(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if s := status(); s.State != reconcile.StateRunning || s.PID == first.PID {
		t.Fatalf("after start: %+v", s)
	}
	// Down through the API: Run ends with ErrDown, and the client returns
	// once the owner has closed the instance (the lock is free).
	downOverAPI(ctx, t, c, in, root, runErr)
}
