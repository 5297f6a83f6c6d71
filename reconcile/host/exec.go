package host

import (
	"context"
	"fmt"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/runtime"
)

// Exec runs a process inside a running replica's sandbox, with the
// workload's confinement, through the sandbox init (so it needs no
// supervisor), and returns its exit status.
func Exec(ctx context.Context, root rootdir.Root, project, service string, replica int, ec runtime.ExecConfig) (runtime.ExitStatus, error) {
	rec, err := reconcile.NewStore(root).LoadSandbox(project, service, replica)
	if err != nil {
		return runtime.ExitStatus{}, err
	}
	name := reconcile.Ident{Project: project, Service: service, Index: replica}.Name()
	if rec == nil {
		return runtime.ExitStatus{}, fmt.Errorf("%s of project %s is not running (no record; is the project up?)", name, project)
	}
	if !rec.State.Alive() || !rec.Alive() {
		return runtime.ExitStatus{}, fmt.Errorf("%s of project %s is not running (state %s)", name, project, rec.State)
	}
	sb, err := adopt(root, rec)
	if err != nil {
		return runtime.ExitStatus{}, err
	}
	return sb.Exec(ctx, ec)
}
