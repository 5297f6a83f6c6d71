package reconcile

import (
	"context"
	"syscall"
	"time"

	"nucleus/spec"
)

// The supervisor reaches the kernel only through these small interfaces;
// adapters over the runtime and network packages implement them. Keeping
// them here (and narrow) is what lets runtime and network stay unaware of
// each other and of reconcile.

// Runtime launches sandboxes and re-attaches to running ones.
type Runtime interface {
	// Launch creates the replica's sandbox, attaches it to its service's
	// networks through req.Networks and starts its workload (the launch
	// path `nucleus run` takes too, reconcile/launch). On an error nothing
	// of it is left and the error names the step that failed.
	Launch(ctx context.Context, req LaunchRequest) (Sandbox, []Attachment, error)
	// Adopt re-attaches to a sandbox recorded by an earlier supervisor; the
	// sandbox keeps its PID.
	Adopt(ctx context.Context, rec *SandboxRecord) (Sandbox, error)
	// Cleanup removes what a dead sandbox left behind (cgroup, state
	// directory); it is idempotent. For a record still Creating it finds
	// what exists by rec.ID, and kills an init that outlived its supervisor.
	Cleanup(ctx context.Context, rec *SandboxRecord) error
	// RemoveProjectSandboxes removes the project's sandboxes that the
	// runtime's own records name, whatever the store recorded, except
	// those keep accepts (nil: none), and returns their ids; it fails
	// naming anything of them that is left.
	RemoveProjectSandboxes(ctx context.Context, project string, keep func(id string) bool) ([]string, error)
	// Forget removes what the runtime keeps of a replica from one of its
	// sandboxes to the next (the writable layer of its root) once the
	// replica is not coming back: removed, scaled away, or the project
	// taken down (replica "": every replica of project). It is idempotent.
	Forget(ctx context.Context, project, replica string) error
}

// LaunchRequest describes one replica's sandbox.
type LaunchRequest struct {
	Replica Ident // Replica.ID() names the new sandbox
	Service *spec.Service
	// Volumes are the project's named volumes (for resolving mounts).
	Volumes map[string]*spec.Volume
	// Networks generates the replica's files (resolv.conf, hosts) and
	// attaches it to each network of Service, in name order.
	Networks Networks
}

// ExitStatus is how a workload ended.
type ExitStatus struct {
	Code      int  // 128+N for a signal
	OOMKilled bool // the main process was the OOM killer's victim
	// OOMKills counts the sandbox's processes the OOM killer killed, the
	// main one or others (the cgroup's counter).
	OOMKills uint64
}

// Sandbox is one running (or created) sandbox.
type Sandbox interface {
	PID() int // host PID of the sandbox init
	Start() error
	// Wait blocks until the workload has exited.
	Wait() (ExitStatus, error)
	// Stop sends sig, waits grace, kills what is left and removes the sandbox.
	Stop(ctx context.Context, sig syscall.Signal, grace time.Duration) error
	UpdateResources(spec.Resources) error
}

// Networks manages a project's networks and the sandboxes' attachments.
type Networks interface {
	// EnsureNetwork creates the network or updates it in place; it returns
	// the subnet in use.
	EnsureNetwork(ctx context.Context, project string, n *spec.Network) (subnet string, err error)
	Attach(ctx context.Context, a AttachRequest) (Attachment, error)
	// Update applies live fields (ports, egress, aliases, DNS) in place.
	Update(ctx context.Context, a AttachRequest) error
	// Detach disconnects a replica; its address stays reserved for its
	// next start.
	Detach(ctx context.Context, project, network, service string, replica int) error
	// Release gives back the addresses of a replica on every network of
	// the project but keep: all of them for one removed for good (scaled
	// down, service removed), those it left for one started again.
	Release(ctx context.Context, project, service string, replica int, keep []string) error
	RemoveNetwork(ctx context.Context, project, network string) error
	RemoveProject(ctx context.Context, project string) error
	// Reserve reserves the address a replica gets on a network (Pid is
	// not set): the launch path calls it for every network before Create,
	// so a replica without an address fails before a sandbox exists.
	Reserve(ctx context.Context, a AttachRequest) (ip string, err error)
	// Files are the generated /etc/resolv.conf and /etc/hosts of a replica
	// whose own address (on its first network; "" without one) is own.
	Files(project string, s *spec.Service, own string) (map[string][]byte, error)
}

// AttachRequest asks for one replica to be attached to one network.
type AttachRequest struct {
	Project, Network string
	Service          *spec.Service
	Replica          int
	PID              int
}

// HealthChecker runs one health check of a replica (exec inside the
// sandbox, or TCP/HTTP from its network namespace). nil means healthy.
type HealthChecker interface {
	Check(ctx context.Context, sb Sandbox, hc *spec.Healthcheck) error
}
