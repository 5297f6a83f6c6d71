package reconcile

import (
	"time"

	"nucleus/spec"
)

// RunState is the lifecycle state of one sandbox replica, as `nucleus ps`
// shows it.
type RunState string

// Replica states.
const (
	StateStarting  RunState = "starting"
	StateRunning   RunState = "running"
	StateHealthy   RunState = "healthy"
	StateUnhealthy RunState = "unhealthy"
	StateExited    RunState = "exited"
	StateBackoff   RunState = "backoff"   // exited, waiting for its next restart attempt
	StateCrashloop RunState = "crashloop" // backoff, restarting too often
	StateStopped   RunState = "stopped"   // stopped by the user (nucleus stop)
	// StateWaiting: not started because a depends_on condition does not
	// hold yet; a later pass (the dependency started, turned healthy or
	// exited) starts it. The record says what it waits for.
	StateWaiting RunState = "waiting"
	// StateDead marks a stale record: its sandbox vanished while nobody
	// watched (supervisor killed, host rebooted). Plan starts it afresh.
	StateDead RunState = "dead"
	// StateCreating is shown (never recorded) for a replica whose intent
	// record (Creating) is written and whose sandbox a running supervisor
	// is creating now. Without a supervisor such a record is dead.
	StateCreating RunState = "creating"
	// StateCorrupt is shown (never planned) for a replica whose record
	// could not be decoded and was set aside: what runs is unknown.
	StateCorrupt RunState = "corrupt"
)

// Alive reports whether the replica's workload is running.
func (s RunState) Alive() bool {
	switch s {
	case StateStarting, StateRunning, StateHealthy, StateUnhealthy:
		return true
	}
	return false
}

// Observed is what runs now for one project: every recorded sandbox replica
// and every project network. The supervisor builds it from the state store
// (records whose process is gone have already been dropped as stale).
type Observed struct {
	Replicas []ReplicaState `json:"replicas"`
	Networks []NetworkState `json:"networks"`
	// SupervisorStart is true for the first pass of a (re)started
	// supervisor: restart: always then starts manually stopped replicas
	// again (like Docker after a daemon restart); unless-stopped does not.
	SupervisorStart bool `json:"supervisor_start,omitempty"`
	// Up names the services of an explicit `nucleus up` (the pass that
	// serves the request, never a reload or a restart-policy pass): their
	// replicas that do not run (exited, backoff, crashloop, stopped) start
	// now, whatever the restart policy says, with fresh restart bookkeeping.
	Up []string `json:"up,omitempty"`
	// Recreate names the services of `nucleus up --force-recreate`: their
	// running replicas restart although their configuration is unchanged.
	Recreate []string `json:"recreate,omitempty"`
	// RecreateBefore is when --force-recreate was asked: a replica started
	// since (by an earlier pass serving the same up) is not recreated again.
	RecreateBefore time.Time `json:"recreate_before,omitzero"`
	// Down is the pass of `nucleus down` (or of a foreground up stopping):
	// what it removes goes because the project goes down, which its steps
	// say, not because the files dropped it.
	Down bool `json:"down,omitempty"`
}

// ReplicaState is one sandbox replica as recorded.
type ReplicaState struct {
	Service string   `json:"service"`
	Replica int      `json:"replica"` // 1-based
	State   RunState `json:"state"`
	// Hash is spec.ServiceHash of the configuration the replica runs.
	Hash string `json:"hash"`
	// Applied is the configuration the replica runs; it lets Plan name the
	// changed fields. nil when unknown (the cause is then "configuration changed").
	Applied *spec.Service `json:"applied,omitempty"`
	// Networks are the project networks the replica is attached to.
	Networks []string `json:"networks,omitempty"`

	// For exited replicas: what the restart policy needs to decide.
	ExitCode   int  `json:"exit_code,omitempty"`
	ManualStop bool `json:"manual_stop,omitempty"`
	Restarts   int  `json:"restarts,omitempty"`
	// NextAttempt is when back-off allows the next start (zero: now).
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Waiting is what a waiting replica waits for ("db-1 to be healthy").
	Waiting string `json:"waiting_for,omitempty"`
	// StartedAt is when the replica last started (zero: unknown).
	StartedAt time.Time `json:"started_at,omitzero"`
	// StartError is why its last start failed before the workload ran
	// ("" when it ran): a cause then says that, not "exited".
	StartError string `json:"start_error,omitempty"`
}

// NetworkState is one project network as it exists on the host.
type NetworkState struct {
	Name string `json:"name"`
	// Subnet is the subnet in use (allocated or static).
	Subnet string `json:"subnet"`
	// Applied is the declaration it was created from (nil when unknown).
	Applied *spec.Network `json:"applied,omitempty"`
}
