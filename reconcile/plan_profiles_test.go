package reconcile

import "testing"

// TestPlanLeavesDisabledServices: replicas of a service whose profiles are
// not active now (started by an earlier --profile up) are neither removed
// nor restarted; a service gone from the files is removed.
func TestPlanLeavesDisabledServices(t *testing.T) {
	obs := running(project(nil, svc("web"), svc("debug"), svc("gone")))
	desired := project(nil, svc("web"))
	desired.Disabled = []string{"debug"}
	steps := Plan(desired, obs)
	if len(steps) != 1 || steps[0].Action != ActionRemove || steps[0].Service != "gone" {
		t.Errorf("steps:\n%s\nwant only: remove gone", render(steps))
	}
}
