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
	"image/nucleus.yaml":                  {"image", []string{"status", "web"}},
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

// The db example's README and comments promise these; keep them true.
func TestDBExampleMeansWhatItSays(t *testing.T) {
	p := load(t, "db/nucleus.yaml")
	users := map[string]string{"postgres": "postgres", "redis": "redis", "app": "nobody"}
	defaults := map[string]int{"postgres": 25432, "redis": 26379, "app": 28000}
	for name, s := range p.Services {
		if s.User != users[name] {
			t.Errorf("%s runs as %q, want %q", name, s.User, users[name])
		}
		if s.Healthcheck == nil {
			t.Errorf("%s has no health check", name)
		}
		if len(s.Ports) != 1 || s.Ports[0].HostIP != "127.0.0.1" || s.Ports[0].Published != defaults[name] {
			t.Errorf("%s publishes %+v, want one port %d on 127.0.0.1", name, s.Ports, defaults[name])
		}
	}
	pg := p.Services["postgres"]
	if len(pg.Volumes) != 1 || pg.Volumes[0].Type != spec.MountVolume || pg.Volumes[0].Source != "pgdata" || !pg.Volumes[0].Chown {
		t.Errorf("postgres volumes = %+v, want the named volume pgdata with :U (chown)", pg.Volumes)
	}
	for _, dep := range []string{"postgres", "redis"} {
		if d, ok := p.Services["app"].DependsOn[dep]; !ok || d.Condition != spec.ConditionHealthy {
			t.Errorf("app depends_on %s = %+v (present %v), want service_healthy", dep, d, ok)
		}
	}

	// The ports (and the password) come from the environment when set.
	env := map[string]string{"DB_PORT": "40001", "REDIS_PORT": "40002", "APP_PORT": "40003", "DB_PASSWORD": "s3cret"}
	p, err := spec.Load(spec.LoadOptions{Files: []string{"db/nucleus.yaml"}, Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"postgres": 40001, "redis": 40002, "app": 40003} {
		if got := p.Services[name].Ports; len(got) != 1 || got[0].Published != want {
			t.Errorf("%s publishes %+v with %v, want host port %d", name, got, env, want)
		}
	}
	if got := p.Services["postgres"].Environment["POSTGRES_PASSWORD"]; got != "s3cret" {
		t.Errorf("postgres POSTGRES_PASSWORD = %q with DB_PASSWORD=s3cret", got)
	}
	if got := p.Services["app"].Environment["DATABASE_URL"]; !strings.Contains(got, ":s3cret@postgres:5432/") {
		t.Errorf("app DATABASE_URL = %q, want the password and the service name postgres", got)
	}
}
