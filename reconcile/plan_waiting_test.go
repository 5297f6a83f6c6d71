package reconcile

import (
	"testing"

	"nucleus/spec"
)

// A replica waiting for its dependencies is started again by every plan
// (the executor records it waiting again while the condition does not
// hold), with what it waits for as the cause and marked Waiting (a retry,
// no change), or the changed fields when the files changed meanwhile (a
// change); under every restart policy.
func TestPlanWaitingReplica(t *testing.T) {
	for _, policy := range []string{spec.RestartNo, spec.RestartOnFailure, spec.RestartAlways} {
		p := project(nil, svc("db"), svc("web", dependsOn("db", false), restartPolicy(policy, 0)))
		o := edit(running(p), "web", 1, func(r *ReplicaState) {
			r.State, r.Waiting = StateWaiting, "db-1 to be healthy (now: backoff, exit code 1)"
		})
		steps := Plan(p, o)
		if len(steps) != 1 || steps[0].String() != "start web: waiting for db-1 to be healthy (now: backoff, exit code 1)" ||
			!steps[0].Waiting || len(Changes(steps)) != 0 {
			t.Errorf("%s: plan %+v, want one start of web naming what it waits for, marked waiting (no change)", policy, steps)
		}
		changed := project(nil, svc("db"), svc("web", dependsOn("db", false), restartPolicy(policy, 0)))
		changed.Services["web"].Environment = map[string]string{"MODE": "new"}
		if steps := Plan(changed, o); len(steps) != 1 || steps[0].String() != "start web: environment.MODE changed" || steps[0].Waiting {
			t.Errorf("%s: plan after an edit %+v, want a start naming the change, not marked waiting", policy, steps)
		}
	}
}
