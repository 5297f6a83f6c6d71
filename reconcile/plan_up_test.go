package reconcile

import (
	"errors"
	"strings"
	"testing"

	"nucleus/spec"
)

// An explicit `nucleus up` (Observed.Up) starts every replica of the named
// services that does not run, whatever its restart policy, with fresh
// restart bookkeeping; replicas that run the current configuration are left
// alone. Without the request (a reload, a restart-policy pass) an exited
// replica stays as its policy says (issue 11, defect 2).
func TestPlanUpStartsWhatDoesNotRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  string
		state   RunState
		code    int
		changed bool
		up      []string
		want    string // steps joined with " | "
		fresh   bool
		// startErr: the start failed before the workload ran (our exit
		// code, nothing in its logs).
		startErr string
	}{
		{"crashed restart no, reload", spec.RestartNo, StateExited, 1, false, nil, "", false, ""},
		{"killed restart no, reload", spec.RestartNo, StateExited, 137, false, nil, "", false, ""},
		{"crashed restart no, file edit", spec.RestartNo, StateExited, 1, true, nil, "restart web: environment.MODE changed", false, ""},
		{"crashed restart no, up", spec.RestartNo, StateExited, 1, false, []string{"web"},
			"start web: exited (exit code 1; its output: nucleus logs web); nucleus up starts it", true, ""},
		{"killed restart no, up", spec.RestartNo, StateExited, 137, false, []string{"web"},
			"start web: exited (exit code 137; its output: nucleus logs web); nucleus up starts it", true, ""},
		{"one-shot done, up", spec.RestartNo, StateExited, 0, false, []string{"web"},
			"start web: exited (exit code 0; its output: nucleus logs web); nucleus up starts it", true, ""},
		{"on-failure exhausted, up", spec.RestartOnFailure, StateExited, 1, false, []string{"web"},
			"start web: exited (exit code 1; its output: nucleus logs web); nucleus up starts it", true, ""},
		{"crashloop, up", spec.RestartAlways, StateCrashloop, 1, false, []string{"web"},
			"start web: crashloop (exit code 1; its output: nucleus logs web); nucleus up starts it", true, ""},
		{"backoff, up", spec.RestartAlways, StateBackoff, 1, false, []string{"web"},
			"start web: backoff (exit code 1; its output: nucleus logs web); nucleus up starts it", true, ""},
		{"stopped, up", spec.RestartNo, StateStopped, 143, false, []string{"web"},
			"start web: stopped by the user; nucleus up starts it", true, ""},
		{"stopped, changed, up", spec.RestartNo, StateStopped, 143, true, []string{"web"},
			"start web: stopped by the user; nucleus up starts it", true, ""},
		{"stopped, reload", spec.RestartNo, StateStopped, 143, false, nil, "", false, ""},
		{"exited, changed, up", spec.RestartNo, StateExited, 1, true, []string{"web"}, "restart web: environment.MODE changed", false, ""},
		{"exited, up of another service", spec.RestartNo, StateExited, 1, false, []string{"db"}, "", false, ""},
		{"running, up", spec.RestartNo, StateRunning, 0, false, []string{"web"}, "", false, ""},
		{"healthy, up", spec.RestartNo, StateHealthy, 0, false, []string{"web"}, "", false, ""},
		{"dead, no up", spec.RestartNo, StateDead, 0, false, nil, "start web: sandbox gone (stale record)", false, ""},
		{"set-up failed, up", spec.RestartNo, StateExited, ExitCodeStartFailed, false, []string{"web"},
			"start web: did not start (exit code 125, nucleus could not set up the sandbox: start failed: attach to network default: no address left); nucleus up tries again",
			true, "start failed: attach to network default: no address left"},
		{"command not found, backoff, up", spec.RestartAlways, StateBackoff, ExitCodeNotFound, false, []string{"web"},
			"start web: did not start (exit code 127, the command was not found: exec: \"srv\": executable file not found in $PATH); nucleus up tries again",
			true, "exec: \"srv\": executable file not found in $PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := project(nil, svc("db"), svc("web", restartPolicy(tc.policy, 1)))
			after := project(nil, svc("db"), svc("web", restartPolicy(tc.policy, 1)))
			if tc.changed {
				after.Services["web"].Environment = map[string]string{"MODE": "new"}
			}
			o := edit(running(before), "web", 1, func(r *ReplicaState) {
				r.State, r.ExitCode, r.Restarts, r.StartError = tc.state, tc.code, 1, tc.startErr
				r.ManualStop = tc.state == StateStopped
			})
			o.Up = tc.up
			steps := Plan(after, o)
			var got []string
			for _, st := range steps {
				got = append(got, st.String())
			}
			if strings.Join(got, " | ") != tc.want {
				t.Fatalf("steps %q, want %q", got, tc.want)
			}
			if len(steps) > 0 && steps[0].Fresh != tc.fresh {
				t.Errorf("fresh = %v, want %v", steps[0].Fresh, tc.fresh)
			}
		})
	}
}

// up of a service with replicas starts only those that do not run: the
// running one is not in the step (same PID).
func TestPlanUpLeavesRunningReplicasAlone(t *testing.T) {
	p := project(nil, svc("web", replicas(3)))
	o := edit(running(p), "web", 2, func(r *ReplicaState) { r.State, r.ExitCode = StateExited, 1 })
	o.Up = []string{"web"}
	steps := Plan(p, o)
	if len(steps) != 1 || steps[0].Action != ActionStart || len(steps[0].Replicas) != 1 || steps[0].Replicas[0] != 2 || !steps[0].Fresh {
		t.Fatalf("steps %v, want one fresh start of web-2", steps)
	}
}

// A start whose cause quotes the error of the last failed start says that
// error once when the start fails the same way again (up printed it twice:
// "...: ERR); nucleus up tries again: ERR"); another error is added.
func TestStepErrorSaysTheErrorOnce(t *testing.T) {
	o := edit(running(project(nil, svc("web"))), "web", 1, func(r *ReplicaState) {
		r.State, r.ExitCode, r.StartError = StateExited, ExitCodeStartFailed, "create sandbox: init died"
	})
	o.Up = []string{"web"}
	steps := Plan(project(nil, svc("web")), o)
	if len(steps) != 1 {
		t.Fatalf("steps %v, want one start", steps)
	}
	same := errors.New("create sandbox: init died")
	if got := stepError(steps[0], same); strings.Count(got.Error(), "init died") != 1 || !errors.Is(got, same) {
		t.Errorf("same error: %q, want it once (and wrapped)", got)
	}
	other := errors.New("attach to network default: no address left")
	if got := stepError(steps[0], other); !strings.HasSuffix(got.Error(), "nucleus up tries again: "+other.Error()) {
		t.Errorf("another error: %q, want it added", got)
	}
}
