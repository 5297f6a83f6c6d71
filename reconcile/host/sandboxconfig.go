package host

import (
	"nucleus/runtime"
	"nucleus/spec"
)

// Limits converts a service's resources into the runtime's limits.
func Limits(r spec.Resources) runtime.Limits {
	// Fails to compile when spec.Resources gains a field this does not map.
	_ = struct {
		Memory spec.ByteSize
		CPUs   float64
		Pids   int64
	}(r)
	return runtime.Limits{Memory: int64(r.Memory), CPUs: r.CPUs, Pids: r.Pids}
}
