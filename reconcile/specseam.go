package reconcile

import "nucleus/spec"

// serviceHash and serviceDiff are seams over the spec package, so a test can
// stand in a diff that misses a field and check that Plan still restarts.
var (
	serviceHash = spec.ServiceHash
	serviceDiff = diffFromSpec
)

// diffFromSpec keeps the changes that matter to a running replica
// (depends_on and replicas are handled by Plan itself).
func diffFromSpec(old, new *spec.Service) []fieldChange {
	var out []fieldChange
	for _, c := range spec.Diff(old, new) {
		if c.Class == spec.ClassNone {
			continue
		}
		out = append(out, fieldChange{Path: c.Path, Live: c.Class == spec.ClassLive, Old: c.Old, New: c.New})
	}
	return out
}
