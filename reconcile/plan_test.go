package reconcile

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/spec"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// svc builds a normalised service with the loader's defaults.
func svc(name string, opts ...func(*spec.Service)) *spec.Service {
	s := &spec.Service{
		Name:            name,
		Command:         []string{"/bin/sleep", "infinity"},
		Hostname:        name,
		Environment:     map[string]string{"MODE": "dev"},
		Networks:        map[string]*spec.ServiceNetwork{"default": {}},
		Restart:         spec.RestartPolicy{Policy: spec.RestartNo},
		StopSignal:      "SIGTERM",
		StopGracePeriod: spec.Duration(10 * time.Second),
		Replicas:        1,
		ReadOnly:        true,
		Security:        spec.Security{UserNS: spec.UserNSPrivate, Seccomp: spec.SeccompDefault, Landlock: spec.Landlock{Mode: spec.LandlockDefault}},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func dependsOn(dep string, restart bool) func(*spec.Service) {
	return func(s *spec.Service) {
		if s.DependsOn == nil {
			s.DependsOn = map[string]spec.Dependency{}
		}
		s.DependsOn[dep] = spec.Dependency{Condition: spec.ConditionStarted, Restart: restart}
	}
}

func onNetworks(names ...string) func(*spec.Service) {
	return func(s *spec.Service) {
		s.Networks = map[string]*spec.ServiceNetwork{}
		for _, n := range names {
			s.Networks[n] = &spec.ServiceNetwork{}
		}
	}
}

func replicas(n int) func(*spec.Service) { return func(s *spec.Service) { s.Replicas = n } }

func memory(m spec.ByteSize) func(*spec.Service) {
	return func(s *spec.Service) { s.Resources.Memory = m }
}

func restartPolicy(p string, max int) func(*spec.Service) {
	return func(s *spec.Service) { s.Restart = spec.RestartPolicy{Policy: p, MaxRetries: max} }
}

// project builds a project; networks are given as name=subnet ("" = auto).
func project(nets map[string]string, svcs ...*spec.Service) *spec.Project {
	p := &spec.Project{Name: "shop", Networks: map[string]*spec.Network{}, Services: map[string]*spec.Service{}}
	if nets == nil {
		nets = map[string]string{"default": ""}
	}
	for name, subnet := range nets {
		p.Networks[name] = &spec.Network{Name: name, Subnet: subnet, NAT: spec.NATAuto}
	}
	for _, s := range svcs {
		p.Services[s.Name] = s
	}
	return p
}

// running is the observed state of p fully applied and running. Call it on
// a separately built project: Applied must not alias the desired services.
func running(p *spec.Project) Observed {
	var o Observed
	for name, s := range p.Services {
		var nets []string
		for n := range s.Networks {
			nets = append(nets, n)
		}
		for i := 1; i <= s.Replicas; i++ {
			o.Replicas = append(o.Replicas, ReplicaState{Service: name, Replica: i, State: StateRunning,
				Hash: serviceHash(s), Applied: s, Networks: nets})
		}
	}
	k := 0
	for name, n := range p.Networks {
		subnet := n.Subnet
		if subnet == "" {
			k++
			subnet = fmt.Sprintf("10.200.%d.0/24", k)
		}
		o.Networks = append(o.Networks, NetworkState{Name: name, Subnet: subnet, Applied: n})
	}
	return o
}

// edit changes one replica's observed state.
func edit(o Observed, service string, replica int, f func(*ReplicaState)) Observed {
	for i := range o.Replicas {
		if o.Replicas[i].Service == service && o.Replicas[i].Replica == replica {
			f(&o.Replicas[i])
		}
	}
	return o
}

type planCase struct {
	name     string
	desired  *spec.Project
	observed Observed
}

func planCases() []planCase {
	three := func() *spec.Project {
		return project(nil,
			svc("db"),
			svc("web", dependsOn("db", false)),
			svc("worker", dependsOn("db", false)))
	}
	var cases []planCase
	add := func(name string, desired *spec.Project, observed Observed) {
		cases = append(cases, planCase{name, desired, observed})
	}

	add("no_change", three(), running(three()))
	add("fresh_project", project(map[string]string{"default": "", "backend": "10.89.1.0/24"},
		svc("db", onNetworks("backend")),
		svc("cache", onNetworks("backend")),
		svc("api", onNetworks("backend", "default"), dependsOn("db", false), dependsOn("cache", false)),
		svc("web", dependsOn("api", false), replicas(2))), Observed{})

	withCache := three()
	withCache.Services["cache"] = svc("cache")
	add("new_service", withCache, running(three()))

	old := three()
	old.Services["old"] = svc("old", dependsOn("web", false))
	old.Services["older"] = svc("older", dependsOn("old", false))
	add("removed_service", three(), running(old))

	env := three()
	env.Services["web"].Environment["MODE"] = "prod"
	env.Services["web"].Environment["DB_URL"] = "postgres://db/shop"
	add("env_change", env, running(three()))

	memBefore := project(nil, svc("db"), svc("web", memory(256<<20), replicas(2)))
	memAfter := project(nil, svc("db"), svc("web", memory(512<<20), replicas(2)))
	add("live_memory", memAfter, running(memBefore))

	ports := project(nil, svc("db"), svc("web"))
	ports.Services["web"].Ports = []spec.Port{{Target: 8080, TargetEnd: 8080, Published: 8081, PublishedEnd: 8081, HostIP: "127.0.0.1", Protocol: "tcp"}}
	add("live_ports", ports, running(project(nil, svc("db"), svc("web"))))

	egress := project(nil, svc("db"), svc("web"))
	egress.Services["web"].Egress = &spec.Egress{Allow: []spec.EgressRule{{CIDR: "192.0.2.0/24"}, {Domain: "api.example.com", PortStart: 443, PortEnd: 443, Protocol: "tcp"}}}
	add("live_egress", egress, running(project(nil, svc("db"), svc("web"))))

	depsOnly := three()
	depsOnly.Services["worker"].DependsOn = map[string]spec.Dependency{"web": {Condition: spec.ConditionHealthy}}
	add("depends_on_only", depsOnly, running(three()))

	add("replicas_up", project(nil, svc("db"), svc("web", replicas(3))),
		running(project(nil, svc("db"), svc("web", replicas(1)))))
	add("replicas_down", project(nil, svc("db"), svc("web", replicas(1))),
		running(project(nil, svc("db"), svc("web", replicas(3)))))

	subnet := func(cidr string) *spec.Project {
		return project(map[string]string{"default": "", "backend": cidr},
			svc("db", onNetworks("backend")),
			svc("web", onNetworks("backend", "default"), dependsOn("db", false), replicas(2)),
			svc("static"))
	}
	add("subnet_change", subnet("10.89.2.0/24"), running(subnet("10.89.1.0/24")))

	netBefore := project(map[string]string{"default": "", "legacy": ""},
		svc("web"), svc("bridge", onNetworks("legacy", "default")), svc("oldjob", onNetworks("legacy")))
	netAfter := project(nil, svc("web"), svc("bridge"))
	add("network_removed", netAfter, running(netBefore))

	chain := func(mode string) *spec.Project {
		p := project(nil,
			svc("db"),
			svc("worker", dependsOn("db", true)),
			svc("reporter", dependsOn("worker", true)),
			svc("api", dependsOn("db", false)),
			svc("cron", dependsOn("worker", false)))
		p.Services["db"].Environment["MODE"] = mode
		return p
	}
	add("restart_true_propagation", chain("prod"), running(chain("dev")))

	crashed := func() *spec.Project {
		return project(nil,
			svc("web", restartPolicy(spec.RestartAlways, 0), replicas(2)),
			svc("job", restartPolicy(spec.RestartNo, 0)),
			svc("worker", restartPolicy(spec.RestartOnFailure, 3)),
			svc("api", restartPolicy(spec.RestartOnFailure, 0)),
			svc("admin", restartPolicy(spec.RestartUnlessStopped, 0)))
	}
	co := running(crashed())
	co = edit(co, "web", 2, func(r *ReplicaState) {
		r.State, r.ExitCode, r.Restarts = StateBackoff, 1, 2
		r.NextAttempt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	})
	co = edit(co, "job", 1, func(r *ReplicaState) { r.State, r.ExitCode = StateExited, 0 })
	co = edit(co, "worker", 1, func(r *ReplicaState) { r.State, r.ExitCode, r.Restarts = StateCrashloop, 2, 3 })
	co = edit(co, "api", 1, func(r *ReplicaState) { r.State = StateUnhealthy })
	co = edit(co, "admin", 1, func(r *ReplicaState) { r.State, r.ExitCode, r.ManualStop = StateStopped, 143, true })
	add("crashed_restart_policy", crashed(), co)

	mixedBefore := project(map[string]string{"default": "", "backend": "10.89.1.0/24", "legacy": ""},
		svc("db", onNetworks("backend"), memory(1<<30)),
		svc("cache", onNetworks("backend")),
		svc("api", onNetworks("backend", "default"), dependsOn("db", true), dependsOn("cache", false), replicas(2)),
		svc("web", dependsOn("api", false), memory(128<<20)),
		svc("old", onNetworks("legacy"), dependsOn("api", false)))
	mixedAfter := project(map[string]string{"default": "", "backend": "10.89.1.0/24", "metrics": ""},
		svc("db", onNetworks("backend"), memory(1<<30)),
		svc("cache", onNetworks("backend"), replicas(2)),
		svc("api", onNetworks("backend", "default"), dependsOn("db", true), dependsOn("cache", false), replicas(2)),
		svc("web", dependsOn("api", false), memory(256<<20)),
		svc("prom", onNetworks("metrics", "backend"), dependsOn("api", false)))
	mixedAfter.Services["db"].Command = []string{"/usr/bin/postgres", "-c", "fsync=on"}
	add("mixed", mixedAfter, running(mixedBefore))
	for _, f := range extraPlanCases {
		cases = append(cases, f())
	}
	return cases
}

// extraPlanCases are appended by init functions below.
var extraPlanCases []func() planCase

// render is the golden form: human lines, parallel batches, JSON.
func render(steps []Step) string {
	var b strings.Builder
	if len(steps) == 0 {
		b.WriteString("(nothing to do)\n")
	}
	for _, s := range steps {
		b.WriteString(s.String() + "\n")
	}
	b.WriteString("\nbatches:")
	n := 0
	for _, batch := range Batches(steps) {
		var idx []string
		for range batch {
			n++
			idx = append(idx, fmt.Sprint(n))
		}
		b.WriteString(" [" + strings.Join(idx, " ") + "]")
	}
	js, _ := json.MarshalIndent(steps, "", "  ")
	b.WriteString("\n\njson:\n" + string(js) + "\n")
	return b.String()
}

func TestPlanGolden(t *testing.T) {
	for _, c := range planCases() {
		t.Run(c.name, func(t *testing.T) {
			got := render(Plan(c.desired, c.observed))
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				testutil.WriteFile(t, path, got)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run go test ./reconcile -run TestPlanGolden -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("plan differs from %s (rerun with -update if intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
			}
		})
	}
}

// TestPlanDeterministic guards against map-order leaks into the plan.
func TestPlanDeterministic(t *testing.T) {
	for _, c := range planCases() {
		first := render(Plan(c.desired, c.observed))
		for range 20 {
			if got := render(Plan(c.desired, c.observed)); got != first {
				t.Fatalf("%s: plan is not deterministic:\n%s\nvs\n%s", c.name, first, got)
			}
		}
	}
}

func init() {
	extraPlanCases = append(extraPlanCases, func() planCase {
		p := func() *spec.Project {
			return project(nil, svc("web", replicas(2), restartPolicy(spec.RestartNo, 0)), svc("db"))
		}
		old := p()
		old.Services["gone"] = svc("gone")
		o := running(old)
		o = edit(o, "web", 2, func(r *ReplicaState) { r.State = StateDead })
		o = edit(o, "db", 1, func(r *ReplicaState) { r.State = StateDead })
		o = edit(o, "gone", 1, func(r *ReplicaState) { r.State = StateDead })
		return planCase{"stale_records", p(), o}
	})
}
