package host

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"nucleus/internal/leaktest"
	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/reconcile"
	"nucleus/runtime"
	"nucleus/spec"
)

// oneService is a project of one sleeping service.
func oneService(t *testing.T, project, service string) *spec.Project {
	t.Helper()
	file := filepath.Join(t.TempDir(), "nucleus.yaml")
	y := "services:\n  " + service + ":\n    command: [\"/bin/sleep\", \"1000\"]\n    stop_signal: SIGKILL\n"
	testutil.WriteFile(t, file, y)
	p, err := spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: project})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// onlyRecord is the single replica record of project, which must be alive,
// with its sandbox's state directory and cgroup in place.
func onlyRecord(t *testing.T, root rootdir.Root, project string) *reconcile.SandboxRecord {
	t.Helper()
	recs, err := reconcile.NewStore(root).LoadSandboxes(project)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("project %s has %d replica records, want 1", project, len(recs))
	}
	r := recs[0]
	if !r.Alive() {
		t.Fatalf("%s is recorded but its init is not running", r)
	}
	if _, err := runtime.ReadRecord(root, r.ID); err != nil {
		t.Fatalf("%s: sandbox %s has no state: %v", r, r.ID, err)
	}
	if _, err := runtime.CgroupStats(root, r.ID); err != nil {
		t.Fatalf("%s: sandbox %s has no cgroup: %v", r, r.ID, err)
	}
	return r
}

// noLeaks checks that root's sandboxes and networks left nothing behind.
func noLeaks(t *testing.T, root rootdir.Root) {
	t.Helper()
	leaktest.Check(t, root)
}

// TestProjectsWhoseNamesJoinAlikeRunSideBySide: project "shop-web" with
// service "api" and project "shop" with service "web-api" read the same
// when joined with '-' ("shop-web-api-1"); their replicas are different
// sandboxes (state, cgroup), both run, and down of one leaves the other.
func TestProjectsWhoseNamesJoinAlikeRunSideBySide(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	mgr, err := network.NewManager(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type proj struct{ name, service string }
	projects := []proj{{"shop-web", "api"}, {"shop", "web-api"}}
	sv := map[string]*reconcile.Supervisor{}
	for _, p := range projects {
		sv[p.name] = &reconcile.Supervisor{
			Project: p.name, Store: reconcile.NewStore(root), Runtime: Runtime{Root: root},
			Networks: Networks{M: mgr}, Parallel: 2, Backoff: reconcile.DefaultBackoff(),
		}
	}
	t.Cleanup(func() {
		for _, p := range projects {
			if err := sv[p.name].Down(ctx); err != nil {
				t.Errorf("down %s: %v", p.name, err)
			}
			sv[p.name].Close()
			if err := runtime.ReleaseProjectIDRange(root, p.name); err != nil {
				t.Errorf("release id range of %s: %v", p.name, err)
			}
		}
		noLeaks(t, root)
	})

	for _, p := range projects {
		if _, err := sv[p.name].Pass(ctx, oneService(t, p.name, p.service)); err != nil {
			t.Fatalf("up of project %s (service %s) next to the other: %v", p.name, p.service, err)
		}
	}
	web, shop := onlyRecord(t, root, "shop-web"), onlyRecord(t, root, "shop")
	if web.ID == shop.ID {
		t.Fatalf("both projects' replicas have the sandbox id %q", web.ID)
	}

	// Down of shop-web leaves shop's sandbox running, with its state and cgroup.
	if err := sv["shop-web"].Down(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.ReadRecord(root, web.ID); err == nil {
		t.Errorf("sandbox %s of shop-web still has state after its down", web.ID)
	}
	if _, err := runtime.CgroupStats(root, web.ID); err == nil {
		t.Errorf("sandbox %s of shop-web still has a cgroup after its down", web.ID)
	}
	after := onlyRecord(t, root, "shop")
	if after.InitPID != shop.InitPID || after.ID != shop.ID {
		t.Fatalf("shop's replica after down of shop-web: %s id %s, want pid %d id %s", after, after.ID, shop.InitPID, shop.ID)
	}
	// The Cleanup takes shop down and checks that nothing is left.
}

// legacyRuntime creates sandboxes under the ID an earlier version gave a
// replica: "<project>-<service>-<n>".
type legacyRuntime struct{ Runtime }

func legacyID(id reconcile.Ident) string {
	return id.Project + "-" + id.Service + "-" + strconv.Itoa(id.Index)
}

func (l legacyRuntime) Launch(ctx context.Context, req reconcile.LaunchRequest) (reconcile.Sandbox, []reconcile.Attachment, error) {
	return l.launch(ctx, req, legacyID(req.Replica))
}

// TestSandboxOfAnEarlierVersionIsAdoptedAndRemoved: a replica started by
// an earlier version (sandbox and record under "<project>-<service>-<n>")
// is adopted by its ID as recorded (same PID, nothing to do), replaced
// under the new ID when its configuration changes, and down leaves nothing.
func TestSandboxOfAnEarlierVersionIsAdoptedAndRemoved(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	defer func() { e.supervisor().Down(ctx) }()
	id := reconcile.Ident{Project: e.project, Service: "a", Index: 1}
	old := legacyID(id)

	// What the earlier version left: its sandbox, and its record naming it.
	sv := e.supervisor()
	sv.Runtime = legacyRuntime{Runtime{Root: e.root}}
	pass(t, sv, e.load("one", "64M"))
	sv.Close()
	// Its records named every sandbox by the old form, as the runtime did.
	store := reconcile.NewStore(e.root)
	recs, err := store.LoadSandboxes(e.project)
	if err != nil || len(recs) == 0 {
		t.Fatalf("records of %s: %v %v", e.project, recs, err)
	}
	for _, r := range recs {
		r.ID = legacyID(reconcile.Ident{Project: r.Project, Service: r.Service, Index: r.Replica})
		if err := store.SaveSandbox(r); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := store.LoadSandbox(e.project, "a", 1)
	if err != nil || rec == nil || rec.ID != old {
		t.Fatalf("record of a-1: %v %v", rec, err)
	}
	if _, err := runtime.ReadRecord(e.root, old); err != nil {
		t.Fatalf("the earlier version's sandbox %s: %v", old, err)
	}

	// This version adopts it as it is.
	sv = e.supervisor()
	defer sv.Close()
	if err := sv.Adopt(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pass(t, sv, e.load("one", "64M")); len(got) != 0 {
		t.Fatalf("after adopting %s the plan is %q, want nothing", old, got)
	}
	now, err := store.LoadSandbox(e.project, "a", 1)
	if err != nil || now == nil || now.ID != old || now.InitPID != rec.InitPID || !now.Alive() {
		t.Fatalf("after adoption a-1 is %v (err %v), want %s running under pid %d", now, err, old, rec.InitPID)
	}

	// A change replaces it: the old sandbox goes, the new one has the new ID.
	if got := pass(t, sv, e.load("two", "64M")); strings.Join(got, "|") != "restart a: environment.MODE changed" {
		t.Fatalf("env change steps %q", got)
	}
	if _, err := runtime.ReadRecord(e.root, old); err == nil {
		t.Errorf("sandbox %s still has state after its replacement", old)
	}
	if _, err := runtime.CgroupStats(e.root, old); err == nil {
		t.Errorf("sandbox %s still has a cgroup after its replacement", old)
	}
	if now, err = store.LoadSandbox(e.project, "a", 1); err != nil || now == nil || now.ID != id.ID() {
		t.Fatalf("after the restart a-1 is %v (err %v), want sandbox %s", now, err, id.ID())
	}

	if err := sv.Down(ctx); err != nil {
		t.Fatal(err)
	}
	noLeaks(t, e.root)
}
