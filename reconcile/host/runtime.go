package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"syscall"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/reconcile/images"
	"nucleus/reconcile/launch"
	"nucleus/runtime"
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

// Launch creates, attaches and starts the replica's sandbox on the shared
// launch path; its output goes to log files (nil Stdout) and it outlives
// the supervisor (DieWithCaller false).
func (r Runtime) Launch(ctx context.Context, req reconcile.LaunchRequest) (reconcile.Sandbox, []reconcile.Attachment, error) {
	return r.launch(ctx, req, req.Replica.ID())
}

// launch launches the sandbox under sandboxID (tests pass the form of ID an
// earlier version gave, to check that such sandboxes are adopted and removed).
func (r Runtime) launch(ctx context.Context, req reconcile.LaunchRequest, sandboxID string) (reconcile.Sandbox, []reconcile.Attachment, error) {
	id := req.Replica
	cfg := SandboxConfig(req.Service, req.Volumes)
	cfg.ID, cfg.Project, cfg.Root = sandboxID, id.Project, r.Root
	cfg.LogDir = ReplicaLogDir(r.Root, id.Project, id.Name())
	if runtime.Rootless() && (!cfg.Service.Security.HostUserNS || len(req.Service.Networks) > 0) {
		// One user namespace per project, so that the user may wire its
		// sandboxes to the project's hub (network/rootless_hub.go); a
		// userns: host sandbox gets one of its own inside it, keeping the
		// user's ids (runtime/create.go), only when it has a network.
		userns, err := runtime.ProjectUserNS(r.Root, id.Project)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", id.Name(), err)
		}
		cfg.UserNSPath = userns
	}
	tree := ""
	if req.Service.Image != "" {
		var err error
		if tree, err = images.Lease(ctx, r.Root, req.Service, sandboxID); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", id.Name(), err)
		}
		cfg.Service.Rootfs = tree
	}
	sb, atts, err := r.launchWith(ctx, req, cfg, tree)
	if err != nil && tree != "" {
		if rerr := images.Release(r.Root, sandboxID); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return sb, atts, err
}

// launchWith launches cfg; tree is the image tree its root is, if any.
func (r Runtime) launchWith(ctx context.Context, req reconcile.LaunchRequest, cfg runtime.Config, tree string) (reconcile.Sandbox, []reconcile.Attachment, error) {
	id := req.Replica
	if cfg.Service.Rootfs != "" && !cfg.Service.ReadOnly {
		cfg.UpperDir = ReplicaUpperDir(r.Root, id.Project, id.Name())
		if err := prepareUpperDir(cfg.UpperDir, req.Service); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", id.Name(), err)
		}
	}
	if r.CheckSource != nil {
		cfg.CheckSource = func(target, real string) error {
			if target == "" && tree != "" && real == spec.RealPath(tree) {
				return nil // the image store's tree, not a host path the files chose
			}
			return r.CheckSource(req.Service, target, real)
		}
	}
	net := &replicaNet{nets: req.Networks, id: id, svc: req.Service}
	sb, err := launch.Launch(ctx, launch.Request{Config: cfg, Service: req.Service, Net: net})
	if err != nil {
		return nil, nil, err
	}
	return sandbox{sb: sb, root: r.Root}, net.attached, nil
}

// replicaNet is a replica's side of the launch over the supervisor's
// Networks: each network of the service, in name order.
type replicaNet struct {
	nets     reconcile.Networks
	id       reconcile.Ident
	svc      *spec.Service
	attached []reconcile.Attachment
}

// Reserve reserves the replica's address on every network first, so that
// one without an address fails before its sandbox exists. Addresses it
// kept on networks it no longer joins are given back first.
func (n *replicaNet) Reserve(ctx context.Context) (string, error) {
	nets := slices.Sorted(maps.Keys(n.svc.Networks))
	if err := n.nets.Release(ctx, n.id.Project, n.id.Service, n.id.Index, nets); err != nil {
		return "", fmt.Errorf("%s: give back the addresses on networks it left: %w", n.id.Name(), err)
	}
	own := ""
	for i, name := range nets {
		ip, err := n.nets.Reserve(ctx, reconcile.AttachRequest{Project: n.id.Project, Network: name, Service: n.svc, Replica: n.id.Index})
		if err != nil {
			return "", fmt.Errorf("%s: %w", n.id.Name(), err)
		}
		if i == 0 {
			own = ip
		}
	}
	return own, nil
}

func (n *replicaNet) Files(svc *spec.Service, own string) (map[string][]byte, error) {
	return n.nets.Files(n.id.Project, svc, own)
}

func (n *replicaNet) Attach(ctx context.Context, pid int) (string, error) {
	for _, name := range slices.Sorted(maps.Keys(n.svc.Networks)) {
		a, err := n.nets.Attach(ctx, reconcile.AttachRequest{Project: n.id.Project, Network: name, Service: n.svc, Replica: n.id.Index, PID: pid})
		if err != nil {
			return name, err
		}
		a.Network = name
		n.attached = append(n.attached, a)
	}
	return "", nil
}

func (n *replicaNet) Detach(ctx context.Context) error {
	var errs []error
	for _, a := range n.attached {
		errs = append(errs, n.nets.Detach(ctx, n.id.Project, a.Network, n.id.Service, n.id.Index))
	}
	n.attached = nil
	return errors.Join(errs...)
}

// Release keeps the reservations: a replica keeps its address from one
// start to the next (network.Manager.Detach keeps it too), and down
// removes them with the network.
func (n *replicaNet) Release(ctx context.Context) error { return nil }

// Adopt re-attaches to a recorded sandbox through the runtime's own
// record of it (record.json in its state directory).
func (r Runtime) Adopt(ctx context.Context, rec *reconcile.SandboxRecord) (reconcile.Sandbox, error) {
	sb, err := adopt(r.Root, rec)
	if err != nil {
		return nil, err
	}
	if rec.Applied != nil && rec.Applied.Image != "" {
		// A lease a prune dropped while no supervisor ran (its holder
		// looked gone) is taken again.
		if err := images.Relet(r.Root, rec.Applied.Rootfs, rec.ID); err != nil {
			slog.Warn("lease the image tree of an adopted sandbox", "sandbox", rec.ID, "err", err)
		}
	}
	return sandbox{sb: sb, root: r.Root}, nil
}

func adopt(root rootdir.Root, rec *reconcile.SandboxRecord) (*runtime.Sandbox, error) {
	rr, err := runtime.ReadRecord(root, rec.ID)
	if err != nil {
		return nil, fmt.Errorf("adopt %s: %w", rec, err)
	}
	return runtime.Adopt(root, rr)
}

// Cleanup removes what a dead sandbox left, by its ID: through the runtime
// when its record is still there, else its cgroup and state directory
// directly (runtime.RemoveAbandoned). For a record still Creating (its
// supervisor killed while making the sandbox) that finds whatever part of
// it exists, and kills an init that outlived the supervisor.
func (r Runtime) Cleanup(ctx context.Context, rec *reconcile.SandboxRecord) error {
	if err := runtime.RemoveAbandoned(ctx, r.Root, rec.ID); err != nil {
		return err
	}
	return images.Release(r.Root, rec.ID)
}

// RemoveProjectSandboxes removes the project's sandboxes by the runtime's
// own records (see runtime.RemoveProjectSandboxes).
func (r Runtime) RemoveProjectSandboxes(ctx context.Context, project string, keep func(id string) bool) ([]string, error) {
	ids, err := runtime.RemoveProjectSandboxes(ctx, r.Root, project, keep)
	for _, id := range ids {
		err = errors.Join(err, images.Release(r.Root, id))
	}
	return ids, err
}

// sandbox adapts *runtime.Sandbox to reconcile.Sandbox.
type sandbox struct {
	sb   *runtime.Sandbox
	root rootdir.Root // for the image tree's lease, released once removed
}

func (s sandbox) PID() int     { return s.sb.PID() }
func (s sandbox) Start() error { return s.sb.Start() }

func (s sandbox) Wait() (reconcile.ExitStatus, error) {
	st, err := s.sb.Wait()
	return reconcile.ExitStatus{Code: st.Code, OOMKilled: st.OOMKilled, OOMKills: st.OOMKills}, err
}

func (s sandbox) Stop(ctx context.Context, sig syscall.Signal, grace time.Duration) error {
	if err := s.sb.Stop(ctx, sig, grace); err != nil {
		return err
	}
	return images.Release(s.root, s.sb.ID())
}

func (s sandbox) UpdateResources(r spec.Resources) error { return s.sb.UpdateResources(Limits(r)) }

// Runtime returns the underlying sandbox (for exec, stats, health checks).
func (s sandbox) Runtime() *runtime.Sandbox { return s.sb }
