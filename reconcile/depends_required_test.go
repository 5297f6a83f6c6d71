package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile/reconciletest"
	"nucleus/spec"
)

func optional(condition string) spec.Dependency {
	no := false
	return spec.Dependency{Condition: condition, Required: &no}
}

// depends_on with required: false (Compose): the dependent starts after a
// dependency that failed for good, and without one that is not in the
// project or has no replicas; a required one still blocks.
func TestSupervisorOptionalDependency(t *testing.T) {
	w := reconciletest.NewWorld()
	w.ExitAfter("migrate", reconciletest.Exit{After: 30 * time.Millisecond, Code: 3})
	sv := newSupervisor(t, w)
	web, api := svc("web"), svc("api")
	web.DependsOn = map[string]spec.Dependency{"migrate": optional(spec.ConditionCompleted),
		"gone": optional(spec.ConditionStarted), "off": optional(spec.ConditionHealthy)}
	api.DependsOn = map[string]spec.Dependency{"migrate": {Condition: spec.ConditionCompleted}}
	off := svc("off")
	off.Replicas = 0
	l := loopOver(t, sv, project(nil, svc("migrate"), off, web, api))
	testutil.WaitFor(t, "web started after the optional migration failed", 5*time.Second, func() bool { return w.Index("start shop.web.1") >= 0 })
	if exit, create := w.Index("exit shop.migrate.1"), w.Index("create shop.web.1"); create < exit {
		t.Errorf("web created at %d before migrate exited at %d: %v", create, exit, w.Events())
	}
	testutil.WaitFor(t, "a pass failing on api's required migration", 5*time.Second, func() bool {
		err := l.lastErr()
		return err != nil && strings.Contains(err.Error(), "migrate-1 exited with code 3")
	})
	if w.Index("create shop.api.1") >= 0 {
		t.Errorf("api (required migrate) was created: %v", w.Events())
	}
}

// A dependency that fails to start in the same pass skips only the
// services that require it.
func TestSupervisorOptionalDependencyFailedCreate(t *testing.T) {
	w := reconciletest.NewWorld()
	w.FailCreate("db")
	sv := newSupervisor(t, w)
	web := svc("web")
	web.DependsOn = map[string]spec.Dependency{"db": optional(spec.ConditionStarted)}
	_, err := sv.Pass(context.Background(), project(nil, svc("db"), web))
	if err == nil || strings.Contains(err.Error(), "skipped") {
		t.Errorf("error %v; want db's failure and web not skipped", err)
	}
	if w.Index("create shop.web.1") < 0 {
		t.Errorf("web was not created: %v", w.Events())
	}
}

// depends_on restart: true also follows an explicit restart of the
// dependency (nucleus restart db), as Compose does: web and, through it,
// api restart after db; other (restart: false) and stopped replicas are
// left alone.
func TestRestartServicesFollowsRestartTrue(t *testing.T) {
	w := reconciletest.NewWorld()
	sv := newSupervisor(t, w)
	p := project(nil, svc("db"), svc("web", dependsOn("db", true)), svc("api", dependsOn("web", true)), svc("other", dependsOn("db", false)))
	mustPass(t, sv, p)
	if err := sv.RestartServices(context.Background(), p, []string{"db"}); err != nil {
		t.Fatal(err)
	}
	for svc, want := range map[string]int{"db": 2, "web": 2, "api": 2, "other": 1} {
		if got := w.Count("create shop." + svc + ".1"); got != want {
			t.Errorf("%s created %d times; want %d: %v", svc, got, want, w.Events())
		}
	}
	ev := w.Events()
	lastOf := func(e string) int {
		for i := len(ev) - 1; i >= 0; i-- {
			if ev[i] == e {
				return i
			}
		}
		return -1
	}
	if d, web, api := lastOf("create shop.db.1"), lastOf("create shop.web.1"), lastOf("create shop.api.1"); !(d < web && web < api) {
		t.Errorf("restart order db %d, web %d, api %d: %v", d, web, api, ev)
	}
}
