package host

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"nucleus/internal/keeper"
	"nucleus/internal/leaktest"
	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/reconcile"
	"nucleus/runtime"
	"nucleus/spec"
)

// TestMain is runtimetest.Main's (the test binary serves as the sandbox
// init; nucleus-seccomp compiles the filters) and builds nucleus-image for
// the image tests (pulls and unpacks run in it).
func TestMain(m *testing.M) {
	keeper.MaybeRun()
	if runtime.IsInit() {
		runtime.InitMain()
	}
	os.Exit(testutil.RunWithBinaries(m, "nucleus-host-", func(dir string) error {
		if err := testutil.UseSeccompHelper(dir); err != nil {
			return err
		}
		return testutil.UseImageHelper(dir)
	}))
}

const e2eYAML = `services:
  a:
    command: ["/bin/sleep", "1000"]
    environment: {MODE: MODE_A}
    stop_grace_period: 3s
  b:
    command: ["/bin/sleep", "1000"]
    resources: {memory: MEM_B}
    stop_grace_period: 3s
    depends_on: [a]
`

type e2e struct {
	t       *testing.T
	root    rootdir.Root
	dir     string
	project string
	mgr     *network.Manager
}

func newE2E(t *testing.T) *e2e {
	testutil.RequireRoot(t)
	e := &e2e{t: t, root: testutil.TempRoot(t), dir: t.TempDir(), project: fmt.Sprintf("rc%d", os.Getpid()%100000)}
	mgr, err := network.NewManager(e.root)
	if err != nil {
		t.Fatal(err)
	}
	e.mgr = mgr
	// The supervisor leaves the project's uid/gid range to `nucleus down`
	// (reconcile/api), which these tests do not run: give it back, so no
	// host-wide lease outlives the test.
	t.Cleanup(func() {
		if err := runtime.ReleaseProjectIDRange(e.root, e.project); err != nil {
			t.Errorf("release id range: %v", err)
		}
	})
	return e
}

func (e *e2e) load(modeA, memB string) *spec.Project {
	e.t.Helper()
	return e.loadYAML(strings.NewReplacer("MODE_A", modeA, "MEM_B", memB).Replace(e2eYAML))
}

func (e *e2e) supervisor() *reconcile.Supervisor {
	return &reconcile.Supervisor{
		Project: e.project, Store: reconcile.NewStore(e.root), Runtime: Runtime{Root: e.root},
		Networks: Networks{M: e.mgr}, Parallel: 4, Backoff: reconcile.DefaultBackoff(),
	}
}

// pids maps replica name to the PID of its sandbox init, from the records;
// every recorded replica must be alive.
func (e *e2e) pids() map[string]int { return e.pidsOf(true) }

// livePids is pids while things change: a replica being replaced is left out.
func (e *e2e) livePids() map[string]int { return e.pidsOf(false) }

func (e *e2e) pidsOf(strict bool) map[string]int {
	e.t.Helper()
	recs, err := reconcile.NewStore(e.root).LoadSandboxes(e.project)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range recs {
		if !r.Alive() {
			if strict {
				e.t.Fatalf("%s is recorded but not alive", r)
			}
			continue
		}
		out[r.Ident().Name()] = r.InitPID
	}
	return out
}

func pass(t *testing.T, sv *reconcile.Supervisor, p *spec.Project) []string {
	t.Helper()
	steps, err := sv.Pass(context.Background(), p)
	if err != nil {
		t.Fatalf("pass: %v", err)
	}
	var lines []string
	for _, s := range steps {
		lines = append(lines, s.String())
	}
	return lines
}

// TestSupervisorEndToEnd runs real sandboxes on a real bridge network:
// apply, restart only the changed service, apply a memory limit live, adopt
// after a supervisor restart without touching the PIDs, and leave nothing
// behind after down.
func TestSupervisorEndToEnd(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	defer func() {
		// Whatever happened, try to leave nothing behind.
		e.supervisor().Down(ctx)
	}()

	sv := e.supervisor()
	got := pass(t, sv, e.load("one", "64M"))
	want := []string{"create network default: new network", "start a: new service", "start b: new service"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("first pass steps %q, want %q", got, want)
	}
	first := e.pids()
	if len(first) != 2 {
		t.Fatalf("running replicas %v, want a-1 and b-1", first)
	}

	// An environment change restarts a only; b keeps its PID.
	got = pass(t, sv, e.load("two", "64M"))
	if strings.Join(got, "|") != "restart a: environment.MODE changed" {
		t.Fatalf("env change steps %q", got)
	}
	second := e.pids()
	if second["a-1"] == first["a-1"] || second["b-1"] != first["b-1"] {
		t.Fatalf("PIDs before %v after %v: want a replaced and b untouched", first, second)
	}

	// A memory change is applied live: same PID, new limit in the cgroup.
	got = pass(t, sv, e.load("two", "128M"))
	if strings.Join(got, "|") != "update b live: resources.memory 64M -> 128M" {
		t.Fatalf("memory change steps %q", got)
	}
	third := e.pids()
	if third["b-1"] != first["b-1"] {
		t.Fatalf("b's PID changed from %d to %d on a live update", first["b-1"], third["b-1"])
	}
	// The workload's view (on v2 the cgroup also holds the init's budget).
	st, err := runtime.CgroupStats(e.root, reconcile.Ident{Project: e.project, Service: "b", Index: 1}.ID())
	if err != nil {
		t.Fatal(err)
	}
	if st.MemoryLimit != 128<<20 {
		t.Fatalf("memory limit in the cgroup = %d, want %d", st.MemoryLimit, 128<<20)
	}

	// A new supervisor (the old one gone, as after SIGKILL) adopts both
	// sandboxes: nothing to do, same PIDs.
	sv.Close()
	sv2 := e.supervisor()
	defer sv2.Close()
	if err := sv2.Adopt(ctx); err != nil {
		t.Fatal(err)
	}
	if got = pass(t, sv2, e.load("two", "128M")); len(got) != 0 {
		t.Fatalf("after adoption the plan is %q, want nothing", got)
	}
	if after := e.pids(); after["a-1"] != third["a-1"] || after["b-1"] != third["b-1"] {
		t.Fatalf("PIDs after adoption %v, want %v", after, third)
	}

	// Down removes everything: records, sandboxes, cgroups, networks.
	if err := sv2.Down(ctx); err != nil {
		t.Fatal(err)
	}
	for name, pid := range third {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			if st, _ := procstat.StartTime(pid); st != 0 {
				t.Errorf("%s init (pid %d) still running after down", name, pid)
			}
		}
	}
	if ps, _ := reconcile.NewStore(e.root).Projects(); len(ps) != 0 {
		t.Errorf("records left after down: %v", ps)
	}
	leaktest.Check(t, e.root)
}

const healthyYAML = `services:
  db:
    command: ["/bin/busybox", "sh", "-c", "sleep 1; exec /bin/busybox httpd -f -p 127.0.0.1:18080 -h /etc"]
    stop_signal: SIGKILL
    healthcheck: {tcp: 18080, interval: 100ms, timeout: 1s, retries: 3}
  web:
    command: ["/bin/sleep", "1000"]
    stop_grace_period: 1s
    depends_on:
      db: {condition: service_healthy}
`

// TestSupervisorHealthyOrderingEndToEnd: web depends on db being healthy,
// and db only listens after a second; web must start after that (the pass
// that starts db records web waiting; db's health change starts it).
// Promptness is measured from db's health event to web's create event, not
// from db's start: that span also holds db's own start and web's sandbox
// creation, which took 4 s under the v2 VM's emulation at load 10-15.
func TestSupervisorHealthyOrderingEndToEnd(t *testing.T) {
	e := newE2E(t)
	_, err := os.Stat("/bin/busybox")
	testutil.Require(t, err == nil, "/bin/busybox (Debian package busybox-static)")
	hub := reconcile.NewEventHub(nil)
	events, unsubscribe := hub.Subscribe()
	defer unsubscribe()
	e.runProject(healthyYAML, func(sv *reconcile.Supervisor) { sv.Health, sv.Events = Health{}, hub })
	store := reconcile.NewStore(e.root)
	var recs []*reconcile.SandboxRecord
	testutil.WaitFor(t, "web running", 20*time.Second, func() bool {
		recs, _ = store.LoadSandboxes(e.project)
		return len(recs) == 2 && recs[1].State == reconcile.StateRunning
	})
	db, web := recs[0], recs[1]
	if db.State != reconcile.StateHealthy {
		t.Errorf("db state %s, want healthy", db.State)
	}
	if d := web.StartedAt.Sub(db.StartedAt); d < time.Second {
		t.Errorf("web started %v after db; db cannot be healthy before 1s", d)
	}
	var healthy, created time.Time
	var seen []string
	for len(events) > 0 {
		ev := <-events
		seen = append(seen, ev.Type+" "+ev.Name+" "+ev.Health)
		switch {
		case ev.Service == "db" && ev.Type == "health_status" && ev.Health == "healthy" && healthy.IsZero():
			healthy = ev.Time
		case ev.Service == "web" && ev.Type == "create" && created.IsZero():
			created = ev.Time
		}
	}
	t.Logf("db healthy -> web created: %v", created.Sub(healthy))
	if healthy.IsZero() || created.IsZero() || created.Before(healthy) || created.Sub(healthy) > 2*time.Second {
		t.Errorf("db healthy at %v, web created at %v; want web created after db's health change and within 2s of it (events %q)",
			healthy.Format(time.StampMilli), created.Format(time.StampMilli), seen)
	}
}
