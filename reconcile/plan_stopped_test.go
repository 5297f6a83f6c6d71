package reconcile

import (
	"testing"

	"nucleus/spec"
)

// A replica stopped by the user stays stopped whatever the files say, and
// whatever its policy, except that restart: always starts it again on a
// supervisor's first pass (unless-stopped does not).
func TestPlanStoppedByUser(t *testing.T) {
	for _, tc := range []struct {
		policy          string
		changed         bool
		supervisorStart bool
		want            string
	}{
		{spec.RestartAlways, false, false, ""},
		{spec.RestartAlways, true, false, ""},
		{spec.RestartUnlessStopped, false, true, ""},
		{spec.RestartOnFailure, false, true, ""},
		{spec.RestartAlways, false, true, "start web: stopped by the user; supervisor started, exited with code 143, restart: always"},
	} {
		before := project(nil, svc("web", restartPolicy(tc.policy, 0)))
		after := project(nil, svc("web", restartPolicy(tc.policy, 0)))
		if tc.changed {
			after.Services["web"].Environment = map[string]string{"MODE": "new"}
		}
		o := edit(running(before), "web", 1, func(r *ReplicaState) {
			r.State, r.ExitCode, r.ManualStop = StateStopped, 143, true
		})
		o.SupervisorStart = tc.supervisorStart
		steps := Plan(after, o)
		got := ""
		if len(steps) > 0 {
			got = steps[0].String()
		}
		if len(steps) > 1 || got != tc.want {
			t.Errorf("%s changed=%v supervisorStart=%v: steps %v, want %q", tc.policy, tc.changed, tc.supervisorStart, steps, tc.want)
		}
	}
}

func TestSelectServices(t *testing.T) {
	p := project(nil, svc("db"), svc("cache"), svc("api", dependsOn("db", false)), svc("web", dependsOn("api", false)))
	got, err := SelectServices(p, []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Services) != 3 || got.Services["db"] == nil || got.Services["api"] == nil || got.Services["cache"] != nil {
		t.Errorf("select web: %v, want web, api, db", got.Services)
	}
	if len(p.Services) != 4 {
		t.Errorf("SelectServices changed its input")
	}
	if all, _ := SelectServices(p, nil); all != p {
		t.Errorf("no names must select the whole project")
	}
	if _, err := SelectServices(p, []string{"nope"}); err == nil {
		t.Errorf("unknown service accepted")
	}
}
