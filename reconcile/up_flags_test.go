package reconcile

import (
	"slices"
	"strings"
	"testing"
	"time"

	"nucleus/spec"
)

// TestPlanForceRecreate: Observed.Recreate restarts a running, unchanged
// replica that started before the request, and leaves one started since
// (by the pass that served the same up) and other services alone.
func TestPlanForceRecreate(t *testing.T) {
	p := func() *spec.Project { return project(nil, svc("db"), svc("web", dependsOn("db", false))) }
	asked := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	obs := running(p())
	obs = edit(obs, "db", 1, func(r *ReplicaState) { r.StartedAt = asked.Add(-time.Hour) })
	obs = edit(obs, "web", 1, func(r *ReplicaState) { r.StartedAt = asked.Add(-time.Hour) })
	if steps := Plan(p(), obs); len(steps) != 0 {
		t.Fatalf("without Recreate: %v, want no steps", steps)
	}
	obs.Recreate, obs.RecreateBefore = []string{"db"}, asked
	steps := Plan(p(), obs)
	if len(steps) != 1 || steps[0].Action != ActionRestart || steps[0].Service != "db" || !slices.Equal(steps[0].Causes, []string{"up --force-recreate"}) {
		t.Errorf("Recreate db: %v, want one restart of db caused by up --force-recreate", steps)
	}
	obs = edit(obs, "db", 1, func(r *ReplicaState) { r.StartedAt = asked.Add(time.Second) })
	if steps := Plan(p(), obs); len(steps) != 0 {
		t.Errorf("Recreate of a replica started after the request: %v, want none", steps)
	}
}

func TestCheckScaleAndSelectOnly(t *testing.T) {
	web := svc("web", dependsOn("db", false))
	web.Ports = []spec.Port{{Target: 80, Published: 8080, PublishedEnd: 8080, Protocol: "tcp"}}
	p := project(nil, svc("db"), web)
	for scale, want := range map[string]string{"nope": "no such service in project shop (services: db, web)", "db0": "expected 1 to 1000", "web": "only one replica can bind host port 8080/tcp"} {
		m := map[string]int{scale: 2}
		if scale == "db0" {
			m = map[string]int{"db": 0}
		}
		if err := CheckScale(p, m); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckScale %v: %v, want %q", m, err, want)
		}
	}
	if err := CheckScale(p, map[string]int{"db": 5, "web": 1}); err != nil {
		t.Errorf("CheckScale db=5 web=1: %v", err)
	}
	if q := applyScale(p, map[string]int{"db": 5}); q.Services["db"].Replicas != 5 || p.Services["db"].Replicas != 1 {
		t.Errorf("applyScale: db replicas %d in the result, %d in the input; want 5 and 1 (unchanged)", q.Services["db"].Replicas, p.Services["db"].Replicas)
	}
	q, err := SelectOnly(p, []string{"web"})
	if err != nil || len(q.Services) != 1 || len(q.Services["web"].DependsOn) != 0 || len(p.Services["web"].DependsOn) != 1 {
		t.Errorf("SelectOnly web: %v %v, want web alone without depends_on, the input unchanged", q, err)
	}
}
