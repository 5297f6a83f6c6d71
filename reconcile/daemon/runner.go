package daemon

import (
	"context"
	"errors"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/reconcile/api"
	"nucleus/spec"
)

// ProjectRunner is what the daemon needs from one project's supervisor.
type ProjectRunner interface {
	// Run adopts what runs and reconciles until ctx ends (nil; sandboxes
	// keep running), or returns ErrTakenDown when a client took the
	// project down.
	Run(ctx context.Context) error
	// Reload asks for a pass (SIGHUP).
	Reload()
	// Close releases what the runner holds (lock, socket) after Run.
	Close()
}

// RunnerFactory starts a project's supervisor. load reads its files;
// onPass must be called after every pass.
type RunnerFactory func(root rootdir.Root, project string, load func() (*spec.Project, error), onPass func(reconcile.PassResult)) (ProjectRunner, error)

// ErrTakenDown: `nucleus down` took a daemon-managed project down. It
// stays down until its files change or the daemon is reloaded.
var ErrTakenDown = errors.New("taken down by a client (nucleus down); it comes back when its files change or on SIGHUP")

// apiRunner runs the same supervisor instance `nucleus up` runs
// (reconcile/api), so the project's lock keeps a second supervisor away
// and ps, logs, exec, stop and down reach it over its socket.
type apiRunner struct{ in *api.Instance }

func (r apiRunner) Run(ctx context.Context) error {
	err := r.in.Run(ctx)
	// A runner stopped by a down request may return nil before the
	// instance marks itself finished: ending while ctx is live is a down.
	if errors.Is(err, api.ErrDown) || (err == nil && ctx.Err() == nil) {
		return ErrTakenDown
	}
	return err
}

func (r apiRunner) Reload() { r.in.Reload() }
func (r apiRunner) Close()  { r.in.Close() }
