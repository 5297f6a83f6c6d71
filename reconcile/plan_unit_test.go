package reconcile

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"nucleus/spec"
)

func TestLevels(t *testing.T) {
	p := project(nil,
		svc("db"), svc("cache"),
		svc("api", dependsOn("db", false), dependsOn("cache", false)),
		svc("web", dependsOn("api", false)),
		svc("batch", dependsOn("db", false)))
	got := Levels(p)
	want := [][]string{{"cache", "db"}, {"api", "batch"}, {"web"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Levels = %v, want %v", got, want)
	}
}

func TestLevelsCycleTerminates(t *testing.T) {
	l := levelsOf(map[string][]string{"a": {"b"}, "b": {"a"}, "c": {"missing"}})
	if len(l) != 3 || l["c"] != 0 {
		t.Fatalf("levelsOf with a cycle = %v", l)
	}
}

// A replica whose applied configuration is unknown is restarted, not updated.
func TestPlanUnknownAppliedRestarts(t *testing.T) {
	o := running(project(nil, svc("web", memory(1<<20))))
	o = edit(o, "web", 1, func(r *ReplicaState) { r.Applied = nil })
	steps := Plan(project(nil, svc("web", memory(2<<20))), o)
	if len(steps) != 1 || steps[0].String() != "restart web: configuration changed" {
		t.Fatalf("steps = %v", steps)
	}
}

// When the diff claims live-only changes but the hash says otherwise (a
// field the diff does not see), Plan must restart rather than update in place.
func TestPlanLiveGuardedByHash(t *testing.T) {
	before := svc("web", memory(1<<20))
	before.Security.SeccompProfile = []byte(`{"a":1}`)
	after := svc("web", memory(2<<20))
	after.Security.SeccompProfile = []byte(`{"a":1}`)
	saved := serviceDiff
	defer func() { serviceDiff = saved }()
	serviceDiff = func(old, new *spec.Service) []fieldChange {
		return []fieldChange{{Path: "resources.memory", Live: true, Old: "1M", New: "2M"}}
	}
	after.Command = []string{"/bin/other"} // not reported by the stub diff
	steps := Plan(project(nil, after), running(project(nil, before)))
	if len(steps) != 1 || steps[0].Action != ActionRestart {
		t.Fatalf("steps = %v, want one restart", steps)
	}
}

// An exited replica whose restart is allowed keeps its back-off time, and
// one not allowed produces no step.
func TestPlanExitedFollowsPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy string
		code   int
		want   int
	}{
		{spec.RestartNo, 1, 0},
		{spec.RestartAlways, 0, 1},
		{spec.RestartOnFailure, 0, 0},
		{spec.RestartOnFailure, 3, 1},
		{spec.RestartUnlessStopped, 0, 1},
	} {
		p := func() *spec.Project { return project(nil, svc("web", restartPolicy(tc.policy, 0))) }
		o := edit(running(p()), "web", 1, func(r *ReplicaState) { r.State, r.ExitCode = StateExited, tc.code })
		if got := Plan(p(), o); len(got) != tc.want {
			t.Errorf("%s exit %d: steps %v, want %d", tc.policy, tc.code, got, tc.want)
		}
	}
}

func TestBatchesSplitSameReplica(t *testing.T) {
	steps := []Step{
		{Action: ActionReattach, Service: "web", Network: "a", Replicas: []int{1}},
		{Action: ActionReattach, Service: "web", Network: "b", Replicas: []int{1}},
		{Action: ActionReattach, Service: "db", Network: "a", Replicas: []int{1}},
		{Action: ActionStart, Service: "web", Replicas: []int{2}, Partial: true},
	}
	var sizes []int
	for _, b := range Batches(steps) {
		sizes = append(sizes, len(b))
	}
	if !slices.Equal(sizes, []int{1, 3}) {
		t.Fatalf("batch sizes = %v, want [1 3]", sizes)
	}
}

func TestStepString(t *testing.T) {
	for _, tc := range []struct {
		s    Step
		want string
	}{
		{Step{Action: ActionStart, Service: "cache", Causes: []string{"new service"}}, "start cache: new service"},
		{Step{Action: ActionUpdate, Service: "web", Causes: []string{"resources.memory 256M -> 512M"}}, "update web live: resources.memory 256M -> 512M"},
		{Step{Action: ActionRestart, Service: "web", Replicas: []int{2, 3}, Partial: true, Causes: []string{"unhealthy"}}, "restart web-2, web-3: unhealthy"},
		{Step{Action: ActionRemove, Service: "old", Causes: []string{"not in the files"}}, "remove old: not in the files"},
		{Step{Action: ActionRemoveNetwork, Network: "legacy"}, "remove network legacy"},
		{Step{Action: ActionReattach, Service: "web", Network: "backend", Causes: []string{"network backend recreated"}}, "reattach web to backend: network backend recreated"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// BenchmarkPlan50 plans a 50-service project (10 levels, 2 replicas each)
// where one service changed its environment and one its memory.
func BenchmarkPlan50(b *testing.B) {
	mk := func(mode string, mem spec.ByteSize) *spec.Project {
		var svcs []*spec.Service
		for i := range 50 {
			opts := []func(*spec.Service){replicas(2), memory(64 << 20)}
			if i >= 5 {
				opts = append(opts, dependsOn(fmt.Sprintf("s%02d", i-5), i%2 == 0))
			}
			svcs = append(svcs, svc(fmt.Sprintf("s%02d", i), opts...))
		}
		p := project(nil, svcs...)
		p.Services["s10"].Environment["MODE"] = mode
		p.Services["s20"].Resources.Memory = mem
		return p
	}
	desired, observed := mk("prod", 128<<20), running(mk("dev", 64<<20))
	b.ReportAllocs()
	for b.Loop() {
		if len(Plan(desired, observed)) == 0 {
			b.Fatal("empty plan")
		}
	}
}

// A network record without the applied declaration (written before it was
// kept) is recreated once, so a nat or internal change is not missed; a
// static subnet removed from the files goes back to auto-allocation.
func TestPlanNetworkUnknownOrUnsetSubnet(t *testing.T) {
	p := func() *spec.Project {
		pr := project(map[string]string{"back": ""}, svc("web", onNetworks("back")))
		pr.Networks["back"].NAT = spec.NATUserspace
		return pr
	}
	o := running(p())
	o.Networks[0].Applied = nil
	steps := Plan(p(), o)
	if len(steps) == 0 || steps[0].Action != ActionRecreateNetwork || !slices.Contains(steps[0].Causes, "applied configuration unknown") {
		t.Fatalf("unknown applied network: steps %v, want a recreate first", steps)
	}

	o = running(p())
	applied := *o.Networks[0].Applied
	applied.Subnet = "10.77.0.0/24"
	o.Networks[0].Applied, o.Networks[0].Subnet = &applied, "10.77.0.0/24"
	steps = Plan(p(), o)
	if len(steps) == 0 || steps[0].Action != ActionRecreateNetwork || !slices.Contains(steps[0].Causes, "subnet 10.77.0.0/24 -> auto") {
		t.Fatalf("static subnet removed: steps %v, want a recreate", steps)
	}
	if steps := Plan(p(), running(p())); len(steps) != 0 {
		t.Fatalf("unchanged network: steps %v", steps)
	}

	o = running(p())
	applied = *o.Networks[0].Applied
	applied.NAT = spec.NATKernel
	o.Networks[0].Applied = &applied
	steps = Plan(p(), o)
	if len(steps) == 0 || steps[0].Action != ActionRecreateNetwork || !slices.Contains(steps[0].Causes, "nat kernel -> userspace") {
		t.Fatalf("nat changed: steps %v, want a recreate", steps)
	}
}

// LOW-8, intended: a one-shot replica (restart: no) that has exited runs
// again only when its own configuration changes (as compose up does), not
// on a pass that leaves it alone.
func TestPlanExitedOneShotRerunsOnlyOnChange(t *testing.T) {
	p := func(mem spec.ByteSize) *spec.Project {
		return project(nil, svc("job", restartPolicy(spec.RestartNo, 0), memory(mem)))
	}
	o := edit(running(p(1<<20)), "job", 1, func(r *ReplicaState) { r.State, r.ExitCode = StateExited, 0 })
	if steps := Plan(p(1<<20), o); len(steps) != 0 {
		t.Fatalf("unchanged one-shot: steps %v, want none", steps)
	}
	steps := Plan(p(2<<20), o)
	if len(steps) != 1 || steps[0].Action != ActionRestart {
		t.Fatalf("changed one-shot: steps %v, want one restart", steps)
	}
}

// A pull that moved a tag restarts the service, and the plan line names
// the reference and both digests (not "image changed").
func TestPlanImageDigestMoved(t *testing.T) {
	withDigest := func(d string) *spec.Service {
		s := svc("web")
		s.Image, s.ImageDigest, s.Rootfs = "docker.io/library/nginx:1.27", d, "/trees/"+d
		return s
	}
	a := "sha256:ab12" + fmt.Sprintf("%060d", 1)
	b := "sha256:cd34" + fmt.Sprintf("%060d", 2)
	steps := Plan(project(nil, withDigest(b)), running(project(nil, withDigest(a))))
	want := "restart web: image docker.io/library/nginx:1.27 sha256:ab1200000000… -> sha256:cd3400000000…"
	if len(steps) != 1 || steps[0].String() != want {
		t.Fatalf("steps = %v, want [%s]", steps, want)
	}
}

// The pass of down says the project goes down; the same removal by a pass
// over files that dropped the service says they did (a foreground up
// stopped with Ctrl-C printed "remove web: not in the files").
func TestPlanDownCause(t *testing.T) {
	o := running(project(nil, svc("web")))
	o.Networks = []NetworkState{{Name: "default"}}
	for _, tc := range []struct {
		down bool
		want []string
	}{
		{true, []string{"remove web: the project goes down", "remove network default: the project goes down"}},
		{false, []string{"remove web: not in the files", "remove network default: not in the files"}},
	} {
		o.Down = tc.down
		var got []string
		for _, st := range Plan(&spec.Project{Name: "p"}, o) {
			got = append(got, st.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("down=%v: steps %q, want %q", tc.down, got, tc.want)
		}
	}
}
