package api

import (
	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/reconcile/host"
	"nucleus/spec"
)

// Parts are what a project's supervisor runs on. The zero value is the
// host's (reconcile/host: the kernel's runtime and networks); tests of the
// logic above the kernel (here and in reconcile/daemon) give
// reconcile/reconciletest's fakes.
type Parts struct {
	// NewSupervisor builds a project's supervisor (host.NewSupervisor).
	NewSupervisor func(root rootdir.Root, project string) (*reconcile.Supervisor, error)
	// Inspect adds what the runtime knows to ps rows (host.Inspector).
	Inspect reconcile.Inspector
}

// supervisor builds project's supervisor; on the host's parts its sandboxes'
// mounts are judged by check (nil: not judged).
func (p Parts) supervisor(root rootdir.Root, project string, check func(svc *spec.Service, target, real string) error) (*reconcile.Supervisor, error) {
	if p.NewSupervisor != nil {
		return p.NewSupervisor(root, project)
	}
	sv, err := host.NewSupervisor(root, project)
	if err == nil && check != nil {
		sv.Runtime = host.Runtime{Root: root, CheckSource: check}
	}
	return sv, err
}

func (p Parts) inspector(root rootdir.Root) reconcile.Inspector {
	if p.Inspect != nil {
		return p.Inspect
	}
	return host.Inspector(root)
}
