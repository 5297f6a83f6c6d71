package host

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/runtime"
	"nucleus/runtime/cgroups"
	"nucleus/spec"
)

// Runtime implements reconcile.Runtime with package runtime.
type Runtime struct {
	Root rootdir.Root
	// CheckSource, when set, judges the host path each bind source and
	// rootfs of svc really resolved to, before the sandbox starts (see
	// runtime.Config.CheckSource; the daemon's host-path policy).
	CheckSource func(svc *spec.Service, target, real string) error
}

var _ reconcile.Runtime = Runtime{}

// Create builds the sandbox; its output goes to log files (nil Stdout) and
// it outlives the supervisor (DieWithCaller false).
func (r Runtime) Create(ctx context.Context, req reconcile.CreateRequest) (reconcile.Sandbox, error) {
	return r.create(ctx, req, req.Replica.ID())
}

// create builds the sandbox under sandboxID (tests pass the form of ID an
// earlier version gave, to check that such sandboxes are adopted and removed).
func (r Runtime) create(ctx context.Context, req reconcile.CreateRequest, sandboxID string) (reconcile.Sandbox, error) {
	id := req.Replica
	mounts, err := runtime.ResolveMounts(r.Root, id.Project, req.Service, req.Volumes)
	if err != nil {
		return nil, fmt.Errorf("resolve volumes: %w", err)
	}
	cfg := runtime.Config{
		ID: sandboxID, Project: id.Project, Service: req.Service, Root: r.Root, Mounts: mounts, Files: req.Files,
		LogDir: ReplicaLogDir(r.Root, id.Project, id.Name()),
	}
	if r.CheckSource != nil {
		cfg.CheckSource = func(target, real string) error { return r.CheckSource(req.Service, target, real) }
	}
	sb, err := runtime.Create(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return sandbox{sb}, nil
}

// Adopt re-attaches to a recorded sandbox.
func (r Runtime) Adopt(ctx context.Context, rec *reconcile.SandboxRecord) (reconcile.Sandbox, error) {
	rr, err := runtimeRecord(rec)
	if err != nil {
		return nil, err
	}
	sb, err := runtime.Adopt(r.Root, rr)
	if err != nil {
		return nil, err
	}
	return sandbox{sb}, nil
}

// Cleanup removes what a dead sandbox left: through the runtime when its
// state directory is still there, else its cgroup directly.
func (r Runtime) Cleanup(ctx context.Context, rec *reconcile.SandboxRecord) error {
	rr, err := runtimeRecord(rec)
	if err != nil {
		return err
	}
	if sb, err := runtime.Adopt(r.Root, rr); err == nil {
		return sb.Remove(ctx)
	}
	cg, err := cgroups.Load(r.Root, rr.ID)
	if err != nil {
		// No cgroup either: nothing of the sandbox is left to remove.
		return os.RemoveAll(rr.StateDir)
	}
	kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cg.KillAll(kctx); err != nil {
		return err
	}
	if err := cg.Delete(); err != nil {
		return err
	}
	return os.RemoveAll(rr.StateDir)
}

// RemoveProjectSandboxes removes the project's sandboxes by the runtime's
// own records (see runtime.RemoveProjectSandboxes).
func (r Runtime) RemoveProjectSandboxes(ctx context.Context, project string, keep func(id string) bool) ([]string, error) {
	return runtime.RemoveProjectSandboxes(ctx, r.Root, project, keep)
}

func runtimeRecord(rec *reconcile.SandboxRecord) (runtime.Record, error) {
	var rr runtime.Record
	if len(rec.Runtime) == 0 {
		return rr, fmt.Errorf("record %s has no runtime record", rec)
	}
	if err := json.Unmarshal(rec.Runtime, &rr); err != nil {
		return rr, fmt.Errorf("decode runtime record of %s: %w", rec, err)
	}
	return rr, nil
}

// sandbox adapts *runtime.Sandbox to reconcile.Sandbox.
type sandbox struct{ sb *runtime.Sandbox }

func (s sandbox) Pid() int     { return s.sb.Pid() }
func (s sandbox) Start() error { return s.sb.Start() }

func (s sandbox) Wait() (reconcile.ExitStatus, error) {
	st, err := s.sb.Wait()
	return reconcile.ExitStatus{Code: st.Code, OOMKilled: st.OOMKilled, OOMKills: st.OOMKills}, err
}

func (s sandbox) Stop(ctx context.Context, sig syscall.Signal, grace time.Duration) error {
	return s.sb.Stop(ctx, sig, grace)
}

func (s sandbox) UpdateResources(r spec.Resources) error { return s.sb.UpdateResources(r) }

func (s sandbox) Record() (json.RawMessage, error) { return json.Marshal(s.sb.Record()) }

// Runtime returns the underlying sandbox (for exec, stats, health checks).
func (s sandbox) Runtime() *runtime.Sandbox { return s.sb }
