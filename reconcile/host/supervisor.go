package host

import (
	"nucleus/internal/rootdir"
	"nucleus/network"
	"nucleus/reconcile"
)

// Parallel bounds how many independent sandboxes a supervisor starts or
// stops at once.
const Parallel = 8

// NewSupervisor assembles a supervisor for one project over the real
// runtime and network packages, with TCP/HTTP/exec health checks.
func NewSupervisor(root rootdir.Root, project string) (*reconcile.Supervisor, error) {
	mgr, err := network.NewManager(root)
	if err != nil {
		return nil, err
	}
	return &reconcile.Supervisor{
		Project: project, Store: reconcile.NewStore(root), Runtime: Runtime{Root: root},
		Networks: Networks{M: mgr}, Health: Health{}, Parallel: Parallel,
		Backoff: reconcile.DefaultBackoff(),
	}, nil
}
