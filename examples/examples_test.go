package examples_test

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"nucleus/spec"
)

// want is what each bundled example must load to. Finding an example file
// not listed here fails too, so a new example gets a line.
var want = map[string]struct {
	project  string
	services []string
}{
	"hello/nucleus.yaml":                  {"hello", []string{"web"}},
	"web/nucleus.yaml":                    {"web", []string{"db", "web", "worker"}},
	"db/nucleus.yaml":                     {"db", []string{"app", "postgres", "redis"}},
	"gitops/projects/blog/nucleus.yaml":   {"blog", []string{"site"}},
	"gitops/projects/status/nucleus.yaml": {"status", []string{"heartbeat"}},
}

// load reads one example with a fixed, empty environment so the host's
// variables (NUCLEUS_PROJECT_NAME, WEB_MODE, ...) cannot change the result.
func load(t *testing.T, rel string) *spec.Project {
	t.Helper()
	p, err := spec.Load(spec.LoadOptions{Files: []string{rel}, Environ: map[string]string{}})
	if err != nil {
		t.Fatalf("%s does not validate:\n%v", rel, err)
	}
	return p
}

func TestEveryExampleLoads(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), "nucleus") || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return nil
		}
		seen[p] = true
		t.Run(p, func(t *testing.T) {
			w, ok := want[p]
			if !ok {
				t.Fatalf("example %s is not listed in this test; add its project name and services", p)
			}
			proj := load(t, p)
			if proj.Name != w.project {
				t.Errorf("project name %q, want %q", proj.Name, w.project)
			}
			var names []string
			for n := range proj.Services {
				names = append(names, n)
			}
			sort.Strings(names)
			if !reflect.DeepEqual(names, w.services) {
				t.Errorf("services %v, want %v", names, w.services)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("example %s is missing", p)
		}
	}
}

// The web example's comments promise these meanings; keep them true.
func TestWebExampleMeansWhatItSays(t *testing.T) {
	p := load(t, "web/nucleus.yaml")
	worker, web, db := p.Services["worker"], p.Services["web"], p.Services["db"]
	if worker == nil || web == nil || db == nil {
		t.Fatalf("services db, web and worker expected, got %v", p.Services)
	}
	if got := worker.Environment["INTERVAL"]; got != "5" {
		t.Errorf("worker INTERVAL = %q, want 5 (environment: wins over env_file)", got)
	}
	if got := worker.Environment["LOG_PREFIX"]; got != "worker" {
		t.Errorf("worker LOG_PREFIX = %q, want worker (from worker/worker.env)", got)
	}
	if got := web.Environment["MODE"]; got != "production" {
		t.Errorf("web MODE = %q, want the default production when WEB_MODE is unset", got)
	}
	if script := strings.Join(worker.Command, " "); !strings.Contains(script, `"$LOG_PREFIX`) {
		t.Errorf("worker command should keep a literal $LOG_PREFIX for the shell ($$ escape), got %q", script)
	}
	if dep := web.DependsOn["db"]; dep.Condition != spec.ConditionHealthy || !dep.Restart {
		t.Errorf("web depends_on db = %+v, want service_healthy with restart", dep)
	}
	if dep, ok := worker.DependsOn["web"]; !ok || dep.Condition != spec.ConditionStarted {
		t.Errorf("worker depends_on web = %+v (present %v), want service_started from the list form", dep, ok)
	}
	if !p.Networks["backend"].Internal {
		t.Error("network backend should be internal")
	}
	if worker.Egress == nil || len(worker.Egress.Allow) != 4 {
		t.Errorf("worker egress = %+v, want 4 allow rules", worker.Egress)
	}
	for _, port := range web.Ports {
		if port.HostIP != "127.0.0.1" {
			t.Errorf("web publishes %+v on %s; examples publish on 127.0.0.1 only", port, port.HostIP)
		}
	}
	if len(web.Ports) != 2 {
		t.Errorf("web ports = %+v, want 2 (short and long form)", web.Ports)
	}
}
