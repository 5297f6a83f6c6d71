package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/spec"
)

// runPlan runs `nucleus --root ROOT -f FILE plan ARGS...` in-process and
// returns its output and exit code.
func runPlan(t *testing.T, root, file string, args ...string) (string, int) {
	t.Helper()
	out, errOut, msg, code := execute(append([]string{"--root", root, "-f", file, "plan"}, args...)...)
	return out + errOut + msg, code
}

const planYAML = `name: plantest
services:
  db:
    command: [sleep, infinity]
  web:
    command: [sleep, infinity]
    depends_on: [db]
    resources: {memory: MEM}
`

// recordProject records p as applied in the state root (its networks
// created) and returns the store and this process's start time: the test
// process stands in for the sandbox inits, so records naming it are alive.
func recordProject(t *testing.T, rootFlag string, p *spec.Project) (*reconcile.Store, uint64) {
	t.Helper()
	st := reconcile.NewStore(rootdir.Resolve(rootFlag))
	start, err := procstat.StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var nets []reconcile.NetworkState
	for name, n := range p.Networks {
		nets = append(nets, reconcile.NetworkState{Name: name, Subnet: "10.250.0.0/24", Applied: n})
	}
	if err := st.SaveProject(&reconcile.ProjectRecord{Name: p.Name, Networks: nets}); err != nil {
		t.Fatal(err)
	}
	return st, start
}

func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	rootFlag := filepath.Join(dir, "state")
	file := filepath.Join(dir, "nucleus.yaml")
	write := func(mem string) {
		testutil.WriteFile(t, file, strings.Replace(planYAML, "MEM", mem, 1))
	}
	write("256M")

	// Nothing recorded: everything is to be created.
	out, code := runPlan(t, rootFlag, file)
	if code != 1 || !strings.Contains(out, "start db: new service\nstart web: new service\n") {
		t.Fatalf("fresh plan: exit %d, output:\n%s", code, out)
	}

	// Record the project as applied and running.
	p, err := spec.Load(spec.LoadOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	st, start := recordProject(t, rootFlag, p)
	for name, s := range p.Services {
		rec := &reconcile.SandboxRecord{Project: p.Name, Service: name, Replica: 1, InitPID: os.Getpid(), InitStart: start,
			Hash: spec.ServiceHash(s), Applied: s, State: reconcile.StateRunning}
		if err := st.SaveSandbox(rec); err != nil {
			t.Fatal(err)
		}
	}
	out, code = runPlan(t, rootFlag, file)
	if code != 0 || strings.TrimSpace(out) != "nothing to do" {
		t.Fatalf("applied plan: exit %d, output:\n%s", code, out)
	}
	out, code = runPlan(t, rootFlag, file, "--json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("applied plan --json: exit %d, output:\n%s", code, out)
	}

	// A memory change is applied live, and says so at field level.
	write("512M")
	out, code = runPlan(t, rootFlag, file)
	if code != 1 || strings.TrimSpace(out) != "update web live: resources.memory 256M -> 512M" {
		t.Fatalf("memory change: exit %d, output:\n%s", code, out)
	}
	out, code = runPlan(t, rootFlag, file, "--json")
	var steps []reconcile.Step
	if err := json.Unmarshal([]byte(out), &steps); err != nil || code != 1 {
		t.Fatalf("--json: exit %d, %v, output:\n%s", code, err, out)
	}
	if len(steps) != 1 || steps[0].Action != reconcile.ActionUpdate || steps[0].Service != "web" ||
		steps[0].Causes[0] != "resources.memory 256M -> 512M" {
		t.Fatalf("--json steps = %+v", steps)
	}

	// An invalid file is an error (exit 2) naming the place.
	testutil.WriteFile(t, file, "services:\n  web:\n    comand: [x]\n")
	out, code = runPlan(t, rootFlag, file)
	if code != 2 || !strings.Contains(out, "nucleus.yaml:3:5") {
		t.Fatalf("invalid file: exit %d, output:\n%s", code, out)
	}
}

// A replica recorded waiting for its dependency, with its configuration
// unchanged, is no change: plan lists it as waiting and exits 0; --json
// marks its step waiting. An edit of it is a change again (exit 1).
func TestPlanCommandWaitingIsNoChange(t *testing.T) {
	dir := t.TempDir()
	rootFlag := filepath.Join(dir, "state")
	file := filepath.Join(dir, "nucleus.yaml")
	testutil.WriteFile(t, file, strings.Replace(planYAML, "MEM", "256M", 1))
	p, err := spec.Load(spec.LoadOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	st, start := recordProject(t, rootFlag, p)
	db, web := p.Services["db"], p.Services["web"]
	for _, rec := range []*reconcile.SandboxRecord{
		{Project: p.Name, Service: "db", Replica: 1, InitPID: os.Getpid(), InitStart: start,
			Hash: spec.ServiceHash(db), Applied: db, State: reconcile.StateStarting},
		{Project: p.Name, Service: "web", Replica: 1, Hash: spec.ServiceHash(web), Applied: web,
			State: reconcile.StateWaiting, Waiting: "db-1 to be started (now: starting)"},
	} {
		if err := st.SaveSandbox(rec); err != nil {
			t.Fatal(err)
		}
	}
	out, code := runPlan(t, rootFlag, file)
	if code != 0 || out != "nothing to do\nweb-1: waiting for db-1 to be started (now: starting); the supervisor starts it then\n" {
		t.Fatalf("plan with web waiting: exit %d, want 0 and web-1 listed as waiting; output:\n%s", code, out)
	}
	out, code = runPlan(t, rootFlag, file, "--json")
	var steps []reconcile.Step
	if err := json.Unmarshal([]byte(out), &steps); err != nil || code != 0 || len(steps) != 1 || !steps[0].Waiting {
		t.Fatalf("plan --json with web waiting: exit %d, %v, steps %+v; want 0 and one step marked waiting", code, err, steps)
	}
	testutil.WriteFile(t, file, strings.Replace(planYAML, "MEM", "512M", 1))
	if out, code := runPlan(t, rootFlag, file); code != 1 || !strings.Contains(out, "start web: resources.memory 256M -> 512M") {
		t.Fatalf("plan with waiting web edited: exit %d, want 1 and a start naming the change; output:\n%s", code, out)
	}
}
