package reconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/reconcile/reconciletest"
	"nucleus/spec"
)

// The spec builders of the plan tests (export_test.go).
var (
	svc, project                = reconcile.Svc, reconcile.ProjectOf
	dependsOn, replicas, memory = reconcile.DependsOn, reconcile.Replicas, reconcile.Memory
	restartPolicy               = reconcile.RestartPolicy
)

// newSupervisor is a supervisor of project "shop" over the fakes of w.
func newSupervisor(t *testing.T, w *reconciletest.World) *reconcile.Supervisor {
	return reconciletest.NewSupervisor(t, w, testutil.TempRoot(t), "shop")
}

func mustPass(t testing.TB, sv *reconcile.Supervisor, p *spec.Project) []reconcile.Step {
	t.Helper()
	steps, err := sv.Pass(context.Background(), p)
	if err != nil {
		t.Fatalf("pass: %v", err)
	}
	return steps
}

func TestSupervisorDependencyOrderAndBoundedParallelism(t *testing.T) {
	w := reconciletest.NewWorld()
	w.SetCreateDelay(30 * time.Millisecond)
	sv := newSupervisor(t, w)
	sv.Parallel = 2
	p := project(nil, svc("a1"), svc("a2"), svc("a3"), svc("a4"),
		svc("web", dependsOn("a1", false), dependsOn("a2", false), dependsOn("a3", false), dependsOn("a4", false)))
	mustPass(t, sv, p)
	if w.MaxCreating() != 2 {
		t.Errorf("at most %d sandboxes were created at once, want exactly Parallel=2", w.MaxCreating())
	}
	web := w.Index("create shop.web.1")
	for _, a := range []string{"a1", "a2", "a3", "a4"} {
		if i := w.Index("start shop." + a + ".1"); i < 0 || i > web {
			t.Errorf("%s started at event %d, web created at %d: dependency order broken\n%v", a, i, web, w.Events())
		}
	}
	if w.Index("ensure-network default") > w.Index("create shop.a1.1") {
		t.Errorf("network ensured after the first sandbox: %v", w.Events())
	}
	// What was applied is recorded: the next plan is empty.
	if steps := mustPass(t, sv, p); len(steps) != 0 {
		t.Fatalf("second pass planned %v, want nothing", steps)
	}
}

// looping runs passes of p whenever sv reports a change (exits, health,
// back-off), as the Runner does, until the test ends; the pass errors are
// collected. It returns after the first pass.
type looping struct {
	mu   sync.Mutex
	errs []error
	loop *reconcile.Loop
}

func loopOver(t *testing.T, sv *reconcile.Supervisor, p *spec.Project) *looping {
	t.Helper()
	l := &looping{}
	l.loop = reconcile.NewLoop(func(ctx context.Context) {
		_, err := sv.Pass(ctx, p)
		l.mu.Lock()
		l.errs = append(l.errs, err)
		l.mu.Unlock()
	})
	sv.OnChange = l.loop.Mark
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { l.loop.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	if err := l.loop.MarkAndWait(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

// lastErr is the error of the last pass that has finished.
func (l *looping) lastErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs[len(l.errs)-1]
}

// webNeedsHealthyDB is db with a health check and web depending on it
// being healthy (service_healthy).
func webNeedsHealthyDB() (db, web *spec.Service) {
	db = svc("db")
	db.Healthcheck = &spec.Healthcheck{Kind: spec.HealthExec, Test: []string{"CMD", "true"}, Interval: spec.Duration(10 * time.Millisecond), Retries: 3}
	web = svc("web")
	web.DependsOn = map[string]spec.Dependency{"db": {Condition: spec.ConditionHealthy}}
	return db, web
}

// A dependent starts once its dependency turns healthy: the pass that
// starts db defers web (recorded as waiting), and db's health change wakes
// the pass that starts it.
func TestSupervisorWaitsForHealthyDependency(t *testing.T) {
	w := reconciletest.NewWorld()
	w.HealthyAt("db", 4)
	sv := newSupervisor(t, w)
	db, web := webNeedsHealthyDB()
	loopOver(t, sv, project(nil, db, web))
	// The sandbox starts before its record says so: wait for the record.
	testutil.WaitFor(t, "web recorded running", 5*time.Second, func() bool {
		rec, _ := sv.Store.LoadSandbox("shop", "web", 1)
		return rec != nil && rec.State == reconcile.StateRunning
	})
	h, c := w.Index("healthy shop.db.1"), w.Index("create shop.web.1")
	if h < 0 || c < h {
		t.Fatalf("web created at event %d, db healthy at %d; want web after healthy:\n%v", c, h, w.Events())
	}
	recs, _ := sv.Store.LoadSandboxes("shop")
	if recs[0].Service != "db" || recs[0].State != reconcile.StateHealthy || recs[1].State != reconcile.StateRunning || recs[1].Waiting != "" {
		t.Fatalf("records %v, want db healthy and web running", recs)
	}
}

// issue 11 (examples/db): a pass never waits for a depends_on condition.
// While db is not healthy, the pass returns at once with web recorded as
// waiting, naming db; an unrelated service's change is applied meanwhile;
// web starts as soon as db turns healthy.
func TestSupervisorPassDoesNotWaitForDependency(t *testing.T) {
	w := reconciletest.NewWorld()
	sv := newSupervisor(t, w)
	db, web := webNeedsHealthyDB()
	p := project(nil, db, web, svc("other"))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	steps, err := sv.Pass(ctx, p)
	if err != nil || ctx.Err() != nil {
		t.Fatalf("first pass: %v (context: %v), want it to return at once without error", err, ctx.Err())
	}
	if len(steps) != 4 {
		t.Errorf("first pass planned %v", steps)
	}
	rec, _ := sv.Store.LoadSandbox("shop", "web", 1)
	if rec == nil || rec.State != reconcile.StateWaiting || !strings.HasPrefix(rec.Waiting, "db-1 to be healthy (now: ") {
		t.Fatalf("web record %+v, want waiting for db-1 to be healthy", rec)
	}
	st, _ := sv.Store.Status("shop", p, nil, time.Now())
	if st[2].Name != "web-1" || st[2].State != reconcile.StateWaiting || st[2].WaitingFor != rec.Waiting {
		t.Errorf("status %+v, want web-1 waiting and why", st)
	}

	// An unrelated change while web waits: applied by the next pass.
	changed := project(nil, db, web, svc("other"))
	changed.Services["other"].Environment = map[string]string{"MODE": "new"}
	steps, err = sv.Pass(ctx, changed)
	if err != nil || ctx.Err() != nil || w.Count("create shop.other.1") != 2 {
		t.Fatalf("pass with other changed: steps %v, err %v, context %v; events %v", steps, err, ctx.Err(), w.Events())
	}
	if w.Index("create shop.web.1") >= 0 {
		t.Fatalf("web created before db is healthy: %v", w.Events())
	}

	w.HealthyAt("db", 1)
	loopOver(t, sv, changed)
	testutil.WaitFor(t, "web started after db turned healthy", 5*time.Second, func() bool { return w.Index("start shop.web.1") >= 0 })
	if h, c := w.Index("healthy shop.db.1"), w.Index("create shop.web.1"); c < h {
		t.Fatalf("web created at %d before db healthy at %d: %v", c, h, w.Events())
	}
}

// service_completed_successfully: web starts after migrate exited 0; a
// migration that failed for good (exit 3, restart: no) keeps web from
// starting, and the pass's error names it.
func TestSupervisorCompletedDependency(t *testing.T) {
	for _, code := range []int{0, 3} {
		t.Run(fmt.Sprint("exit", code), func(t *testing.T) {
			w := reconciletest.NewWorld()
			w.ExitAfter("migrate", reconciletest.Exit{After: 30 * time.Millisecond, Code: code})
			sv := newSupervisor(t, w)
			web := svc("web")
			web.DependsOn = map[string]spec.Dependency{"migrate": {Condition: spec.ConditionCompleted}}
			l := loopOver(t, sv, project(nil, svc("migrate"), web))
			if code == 0 {
				testutil.WaitFor(t, "web started", 5*time.Second, func() bool { return w.Index("start shop.web.1") >= 0 })
				exit, create := w.Index("exit shop.migrate.1"), w.Index("create shop.web.1")
				if err := l.lastErr(); err != nil || exit < 0 || create < exit {
					t.Fatalf("err %v; web created at %d, migrate exited at %d:\n%v", err, create, exit, w.Events())
				}
				return
			}
			testutil.WaitFor(t, "a pass failing on the migration", 5*time.Second, func() bool {
				err := l.lastErr()
				return err != nil && strings.Contains(err.Error(), "dependency migrate-1 exited with code 3")
			})
			if w.Index("create shop.web.1") >= 0 {
				t.Fatalf("a failed migration must block web: events %v", w.Events())
			}
			rec, _ := sv.Store.LoadSandbox("shop", "web", 1)
			if rec == nil || rec.State != reconcile.StateWaiting || !strings.Contains(rec.Permanent, "migrate-1 exited with code 3") {
				t.Fatalf("web record %+v, want waiting, with the failed migration as why it will not start", rec)
			}
		})
	}
}

func TestSupervisorFailedDependencySkipsDependents(t *testing.T) {
	w := reconciletest.NewWorld()
	w.FailCreate("db")
	sv := newSupervisor(t, w)
	p := project(nil, svc("db"), svc("cache"), svc("web", dependsOn("db", false)), svc("api", dependsOn("web", false)))
	_, err := sv.Pass(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "start web: new service: skipped: dependency db failed") ||
		!strings.Contains(err.Error(), "skipped: dependency web failed") {
		t.Fatalf("error = %v", err)
	}
	if w.Index("create shop.cache.1") < 0 || w.Index("create shop.web.1") >= 0 || w.Index("create shop.api.1") >= 0 {
		t.Fatalf("independent cache must start, web and api must not: %v", w.Events())
	}
}

func TestSupervisorRestartAndLiveUpdate(t *testing.T) {
	w := reconciletest.NewWorld()
	sv := newSupervisor(t, w)
	mustPass(t, sv, project(nil, svc("db"), svc("web", memory(256<<20))))
	before := len(w.Events())

	changed := project(nil, svc("db"), svc("web", memory(512<<20)))
	steps := mustPass(t, sv, changed)
	if len(steps) != 1 || steps[0].Action != reconcile.ActionUpdate {
		t.Fatalf("memory change planned %v", steps)
	}
	ev := w.Events()[before:]
	if len(ev) != 2 || ev[0] != "update shop.web.1 memory=512M" || ev[1] != "network-update web-1 default" {
		t.Fatalf("live update events %v", ev)
	}

	env := project(nil, svc("db"), svc("web", memory(512<<20)))
	env.Services["web"].Environment["MODE"] = "prod"
	before = len(w.Events())
	mustPass(t, sv, env)
	ev = w.Events()[before:]
	want := []string{"stop shop.web.1", "detach web-1 default", "create shop.web.1", "attach web-1 default", "start shop.web.1"}
	if strings.Join(ev, "|") != strings.Join(want, "|") {
		t.Fatalf("restart events %v, want %v", ev, want)
	}
	if steps := mustPass(t, sv, env); len(steps) != 0 {
		t.Fatalf("after the restart the plan is %v, want nothing", steps)
	}
}

func TestSupervisorCrashBacksOffThroughTheLoop(t *testing.T) {
	w := reconciletest.NewWorld()
	w.ExitAfter("worker", reconciletest.Exit{After: 5 * time.Millisecond, Code: 1})
	sv := newSupervisor(t, w)
	sv.Backoff.Initial, sv.Backoff.Max = 40*time.Millisecond, time.Second
	p := project(nil, svc("worker", restartPolicy(spec.RestartAlways, 0)))
	loop := reconcile.NewLoop(func(ctx context.Context) { sv.Pass(ctx, p) })
	sv.OnChange = loop.Mark
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() { loop.Run(ctx); close(stopped) }()
	loop.Mark()
	testutil.WaitFor(t, "four starts of the crashing worker", 5*time.Second, func() bool { return w.Count("start shop.worker.1") >= 4 })
	cancel()
	<-stopped

	// The waits between an exit and the next start double: 40, 80, 160 ms.
	g := w.Gaps("exit shop.worker.1", "start shop.worker.1")
	if len(g) < 3 {
		t.Fatalf("gaps %v", g)
	}
	for i, want := range []time.Duration{40, 80, 160} {
		if want *= time.Millisecond; g[i] < want {
			t.Errorf("wait before restart %d = %v, shorter than the back-off %v (all %v)", i+1, g[i], want, g)
		}
	}
	// (Upper bounds would measure the machine's load; the exact waits are
	// checked from the records in host.TestCrashloopBacksOffEndToEnd.)
	// Four starts are the first start and three restarts.
	recs, _ := sv.Store.LoadSandboxes("shop")
	if len(recs) != 1 || recs[0].Restart.Total != 3 || recs[0].Restart.Restarts != 3 {
		t.Fatalf("worker record restarts = %+v, want 3 (consecutive and total)", recs[0].Restart)
	}
}

func TestSupervisorDownReverseOrder(t *testing.T) {
	w := reconciletest.NewWorld()
	sv := newSupervisor(t, w)
	mustPass(t, sv, project(nil, svc("db"), svc("web", dependsOn("db", false)), svc("edge", dependsOn("web", false))))
	if err := sv.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	e, wb, d := w.Index("stop shop.edge.1"), w.Index("stop shop.web.1"), w.Index("stop shop.db.1")
	if !(e >= 0 && e < wb && wb < d) {
		t.Fatalf("stop order edge %d, web %d, db %d; want edge < web < db: %v", e, wb, d, w.Events())
	}
	if w.Index("remove-network default") < d || w.Index("remove-project shop") < 0 {
		t.Fatalf("network removed before its sandboxes, or project not removed: %v", w.Events())
	}
	if ps, _ := sv.Store.Projects(); len(ps) != 0 {
		t.Fatalf("records left after down: %v", ps)
	}
}

// issue 11, defect 9: down fails, and keeps the records, when the runtime
// reports a sandbox of the project left after removal; it never claims a
// project down that is not.
func TestSupervisorDownFailsWithSomethingLeft(t *testing.T) {
	w := reconciletest.NewWorld()
	sv := newSupervisor(t, w)
	mustPass(t, sv, project(nil, svc("web")))
	w.SetLeftover(fmt.Errorf("sandbox shop-web-9 of project shop is left after removal: init process 42"))
	err := sv.Down(context.Background())
	if err == nil || !strings.Contains(err.Error(), "shop-web-9") {
		t.Fatalf("down with a sandbox left: %v, want an error naming it", err)
	}
	if ps, _ := sv.Store.Projects(); len(ps) != 1 || w.Index("remove-project shop") >= 0 {
		t.Fatalf("a failed down removed the project's records or networks: %v %v", ps, w.Events())
	}
}

// issue 11, defect 9: a monitored replica whose record was deleted or set
// aside as corrupt is observed as it runs (no second start, which would
// find its sandbox taken) and recorded again.
func TestSupervisorRecordsMonitoredReplicaAgain(t *testing.T) {
	w := reconciletest.NewWorld()
	sv := newSupervisor(t, w)
	p := project(nil, svc("web", replicas(2)))
	mustPass(t, sv, p)
	path := sv.Store.SandboxPath("shop", "web", 1)
	if err := os.WriteFile(path, []byte("{garbled"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(sv.Store.SandboxPath("shop", "web", 2)); err != nil {
		t.Fatal(err)
	}
	if steps := mustPass(t, sv, p); len(steps) != 0 {
		t.Fatalf("plan %v, want nothing: both replicas run", steps)
	}
	for n := 1; n <= 2; n++ {
		if rec, err := sv.Store.LoadSandbox("shop", "web", n); err != nil || rec == nil || rec.State != reconcile.StateRunning {
			t.Errorf("record of web-%d after the pass: %v, %v; want it recorded again", n, rec, err)
		}
	}
	if w.Count("create ") != 2 {
		t.Errorf("replicas created again: %v", w.Events())
	}
}

// A pass that reads the records after a workload exited but before the
// monitor recorded it must not take the record for stale (that would
// restart at once, bypassing the restart policy and back-off).
func TestSupervisorUnrecordedExitIsNotStale(t *testing.T) {
	w := reconciletest.NewWorld()
	sv := newSupervisor(t, w)
	p := project(nil, svc("web", restartPolicy(spec.RestartNo, 0)))
	mustPass(t, sv, p)
	// The process is gone (a reaped child's PID) but the fake's Wait has
	// not returned: exactly the window between exit and monitor.
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	rec, err := sv.Store.LoadSandbox("shop", "web", 1)
	if err != nil || rec == nil {
		t.Fatal(rec, err)
	}
	rec.InitPID = cmd.Process.Pid
	if err := sv.Store.SaveSandbox(rec); err != nil {
		t.Fatal(err)
	}
	if steps := mustPass(t, sv, p); len(steps) != 0 {
		t.Fatalf("plan %v, want nothing until the monitor records the exit", steps)
	}
	// A supervisor that does not monitor it (another process) sees a stale
	// record. (The pass wrote the record again, as its memory has it.)
	if err := sv.Store.SaveSandbox(rec); err != nil {
		t.Fatal(err)
	}
	other := newSupervisor(t, w)
	other.Store = sv.Store
	obs, stale, _ := other.Store.Observe("shop")
	if len(stale) != 1 || reconcile.Plan(p, obs)[0].String() != "start web: sandbox gone (stale record)" {
		t.Fatalf("unmonitored dead record: stale %v plan %v", stale, reconcile.Plan(p, obs))
	}
}

// An OOM kill of a child (the main process exits on its own, code 1) is
// recorded, shown by Status (ps) and logged with the replica's name.
func TestSupervisorRecordsOOMKills(t *testing.T) {
	var logs testutil.SyncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	w := reconciletest.NewWorld()
	w.ExitAfter("hog", reconciletest.Exit{After: 5 * time.Millisecond, Code: 1, OOMKills: 2})
	sv := newSupervisor(t, w)
	hog := svc("hog", restartPolicy(spec.RestartNo, 0))
	hog.Resources.Memory = 32 << 20
	p := project(nil, hog)
	if _, err := sv.Pass(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	var st []reconcile.ReplicaStatus
	testutil.WaitFor(t, "the hog's exit recorded", 5*time.Second, func() bool {
		st, _ = sv.Store.Status("shop", p, nil, time.Now())
		return len(st) == 1 && st[0].ExitCode != nil
	})
	if st[0].OOMKills != 2 || *st[0].ExitCode != 1 {
		t.Errorf("status %+v: want exit 1 with 2 OOM kills", st[0])
	}
	if l := logs.String(); !strings.Contains(l, "hog-1 exited: a process was killed: out of memory (limit 32M)") {
		t.Errorf("log: %q", l)
	}
}

// A replica is recorded (creating) before its sandbox exists, and a record
// still creating — its supervisor killed in the middle of the launch — is
// cleaned up by ID and detached from its service's networks before the
// replica starts afresh (issue 11, defect 7).
func TestSupervisorIntentRecordBeforeCreate(t *testing.T) {
	w := reconciletest.NewWorld()
	sv := newSupervisor(t, w)
	w.FailCreate("web")
	var during *reconcile.SandboxRecord
	w.OnCreate(func() { during, _ = sv.Store.LoadSandbox("shop", "web", 1) })
	if _, err := sv.Pass(context.Background(), project(nil, svc("web"))); err == nil {
		t.Fatal("pass with a failing create succeeded")
	}
	if during == nil || !during.Creating || during.ID != "shop.web.1" || during.Hash == "" {
		t.Fatalf("record while the sandbox was being created: %+v, want one marked creating with its ID and hash", during)
	}
	if rec, _ := sv.Store.LoadSandbox("shop", "web", 1); rec == nil || rec.Creating {
		t.Fatalf("record after a failed create: %+v, want the failure recorded, no longer creating", rec)
	}

	// A killed supervisor's intent record: the next supervisor cleans up.
	w2 := reconciletest.NewWorld()
	sv2 := newSupervisor(t, w2)
	sv2.Store = sv.Store
	p := project(nil, svc("web"))
	left := &reconcile.SandboxRecord{Project: "shop", Service: "web", Replica: 1, ID: "shop.web.1",
		Hash: spec.ServiceHash(p.Services["web"]), Applied: p.Services["web"], State: reconcile.StateStarting, Creating: true}
	if err := sv.Store.SaveSandbox(left); err != nil {
		t.Fatal(err)
	}
	mustPass(t, sv2, p)
	c, d, s := w2.Index("cleanup shop.web.1"), w2.Index("detach web-1 default"), w2.Index("create shop.web.1")
	if c < 0 || d < 0 || s < c || s < d {
		t.Fatalf("after a killed launch: cleanup at %d, detach at %d, create at %d; want both before the create:\n%v", c, d, s, w2.Events())
	}
	if rec, _ := sv2.Store.LoadSandbox("shop", "web", 1); rec == nil || rec.Creating || rec.InitPID == 0 {
		t.Fatalf("record after the new start: %+v", rec)
	}
}

// A pass that finds a replica still waiting for its dependency, with
// nothing changed, is no apply: the project record's history does not grow
// and the pass counts no change; web still starts once db turns healthy,
// and that pass is recorded. Before: every pass added a history entry.
func TestWaitingPassesAddNoHistory(t *testing.T) {
	w := reconciletest.NewWorld()
	sv := newSupervisor(t, w)
	db, web := webNeedsHealthyDB()
	p := project(nil, db, web)
	r := &reconcile.Runner{Load: func() (*spec.Project, error) { return p, nil }, Supervisor: sv}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	history := func() []reconcile.ApplyRecord {
		t.Helper()
		pr, err := sv.Store.LoadProject("shop")
		if err != nil || pr == nil {
			t.Fatalf("project record: %+v %v", pr, err)
		}
		return pr.History
	}
	first, err := r.Apply(ctx)
	if err != nil || first.ApplyErr != nil {
		t.Fatalf("first pass: %v %v", err, first.ApplyErr)
	}
	if rec, _ := sv.Store.LoadSandbox("shop", "web", 1); rec == nil || rec.State != reconcile.StateWaiting {
		t.Fatalf("web after the first pass: %+v, want waiting for db", rec)
	}
	n := len(history())
	for i := range 3 {
		res, err := r.Apply(ctx)
		if err != nil || res.ApplyErr != nil || res.Changes != 0 || len(res.Steps) != 1 || !res.Steps[0].Waiting {
			t.Errorf("pass %d while web waits: %+v %v; want one waiting step and no change", i+2, res, err)
		}
	}
	if h := history(); len(h) != n {
		t.Fatalf("history grew from %d to %d entries over 3 passes while web only waited: %+v", n, len(h), h)
	}

	w.HealthyAt("db", 1)
	testutil.WaitFor(t, "web started after db turned healthy", 5*time.Second, func() bool { return w.Index("start shop.web.1") >= 0 })
	testutil.WaitFor(t, "the pass that started web in the history", 5*time.Second, func() bool { return len(history()) == n+1 })
	if h := history()[0]; h.Steps != 1 || h.Error != "" {
		t.Errorf("history entry of the pass that started web: %+v, want 1 step, no error", h)
	}
}
