package reconcile

import (
	"slices"
	"strings"
	"time"
)

// Action is what a Step does.
type Action string

// Step actions. Service actions carry Service and Replicas; network actions
// carry Network; reattach carries both.
const (
	ActionStart   Action = "start"   // create and start the replicas
	ActionRestart Action = "restart" // stop, remove, create and start with the new configuration
	ActionUpdate  Action = "update"  // apply live fields in place (same PID)
	ActionRemove  Action = "remove"  // stop and remove the replicas and their records
	ActionScale   Action = "scale"   // From -> To replicas: start or remove Replicas, others untouched

	ActionCreateNetwork   Action = "create-network"
	ActionRecreateNetwork Action = "recreate-network" // detach its sandboxes, remove, create again
	ActionUpdateNetwork   Action = "update-network"   // live network fields (upstream DNS)
	ActionRemoveNetwork   Action = "remove-network"
	ActionReattach        Action = "reattach" // attach the replicas to a recreated network again
)

// Phase orders actions in a plan: stops before network changes, network
// changes before starts, network removal last (after its sandboxes are gone).
type Phase int

// Plan phases, in execution order.
const (
	PhaseStop    Phase = iota // removals and scale-downs, reverse dependency order
	PhaseNetwork              // create, recreate and update networks
	PhaseService              // starts, restarts, live updates, scale-ups, reattach, dependency order
	PhaseCleanup              // remove networks
)

// Phase returns the plan phase the step belongs to.
func (s Step) Phase() Phase {
	switch s.Action {
	case ActionRemove:
		return PhaseStop
	case ActionScale:
		if s.To < s.From {
			return PhaseStop
		}
		return PhaseService
	case ActionCreateNetwork, ActionRecreateNetwork, ActionUpdateNetwork:
		return PhaseNetwork
	case ActionRemoveNetwork:
		return PhaseCleanup
	}
	return PhaseService
}

// Step is one thing the supervisor does, with its causes at field level.
type Step struct {
	Action  Action `json:"action"`
	Service string `json:"service,omitempty"`
	// Replicas are the 1-based replica numbers the step acts on.
	Replicas []int `json:"replicas,omitempty"`
	// Partial is true when Replicas are only some of the service's replicas;
	// the human line then names them ("web-2") instead of the service.
	Partial bool   `json:"partial,omitempty"`
	Network string `json:"network,omitempty"`
	// From and To are the replica counts of a scale step.
	From int `json:"from,omitempty"`
	To   int `json:"to,omitempty"`
	// Causes say why, at field level ("environment.MODE changed").
	Causes []string `json:"causes"`
	// Level is the service's dependency level (0: depends on nothing).
	// Steps of one phase and level are independent and may run in parallel.
	Level int `json:"level"`
	// NotBefore is the earliest start allowed by restart back-off.
	NotBefore time.Time `json:"not_before,omitzero"`
	// Fresh marks a start the user asked for (nucleus up): the restart
	// count and back-off start over instead of counting a restart.
	Fresh bool `json:"fresh,omitempty"`
	// Waiting marks the retry of replicas recorded waiting for a
	// depends_on condition, with their configuration unchanged: it starts
	// them once the condition holds and otherwise records them waiting
	// again. It is no change to apply (plan's exit code, the history).
	Waiting bool `json:"waiting,omitempty"`
}

// Changes are the steps that change something: all but the retries of
// waiting replicas.
func Changes(steps []Step) []Step {
	var out []Step
	for _, s := range steps {
		if !s.Waiting {
			out = append(out, s)
		}
	}
	return out
}

// String is the human line: "restart web: environment.MODE changed".
func (s Step) String() string {
	var head string
	switch s.Action {
	case ActionUpdate:
		head = "update " + s.subject() + " live"
	case ActionCreateNetwork:
		head = "create network " + s.Network
	case ActionRecreateNetwork:
		head = "recreate network " + s.Network
	case ActionUpdateNetwork:
		head = "update network " + s.Network + " live"
	case ActionRemoveNetwork:
		head = "remove network " + s.Network
	case ActionReattach:
		head = "reattach " + s.subject() + " to " + s.Network
	case ActionScale:
		head = "scale " + s.Service
	default:
		head = string(s.Action) + " " + s.subject()
	}
	if len(s.Causes) == 0 {
		return head
	}
	return head + ": " + strings.Join(s.Causes, ", ")
}

// subject names the service, or its replicas ("web-2, web-3") when the step
// touches only some of them.
func (s Step) subject() string {
	if !s.Partial {
		return s.Service
	}
	return strings.Join(s.ReplicaNames(), ", ")
}

// ReplicaNames names the replicas the step acts on ("web-2").
func (s Step) ReplicaNames() []string {
	names := make([]string, len(s.Replicas))
	for i, r := range s.Replicas {
		names[i] = Ident{Service: s.Service, Index: r}.Name()
	}
	return names
}

// Batches splits an ordered plan into groups of independent steps: every
// step of a batch has the same phase and dependency level and touches
// different sandboxes, so the executor may run a batch in parallel and must
// finish it before the next one.
func Batches(steps []Step) [][]Step {
	var out [][]Step
	for i, s := range steps {
		if i == 0 || s.Phase() != steps[i-1].Phase() || s.Level != steps[i-1].Level || overlaps(out[len(out)-1], s) {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], s)
	}
	return out
}

// overlaps reports whether s touches a replica that a step of batch touches.
func overlaps(batch []Step, s Step) bool {
	if s.Service == "" {
		return false
	}
	for _, b := range batch {
		if b.Service != s.Service {
			continue
		}
		for _, r := range b.Replicas {
			if slices.Contains(s.Replicas, r) {
				return true
			}
		}
	}
	return false
}
