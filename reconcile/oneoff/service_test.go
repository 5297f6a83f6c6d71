package oneoff

import (
	"slices"
	"testing"

	"nucleus/spec"
)

// TestForService: the one-off is a copy of the service with the overrides
// on top and nothing only a replica has; the project stays as it was.
func TestForService(t *testing.T) {
	web := &spec.Service{Name: "web", Command: []string{"/bin/web"}, Environment: map[string]string{"A": "1", "B": "2"},
		Ports: []spec.Port{{Target: 80}}, Healthcheck: &spec.Healthcheck{}, DependsOn: map[string]spec.Dependency{"db": {}},
		Restart: spec.RestartPolicy{Policy: spec.RestartAlways}, Networks: map[string]*spec.ServiceNetwork{"front": nil, "back": nil}}
	img := &spec.Service{Name: "img", Image: "docker.io/library/x:1"}
	p := &spec.Project{Name: "p", Services: map[string]*spec.Service{"web": web, "img": img, "db": {Name: "db"}}}

	got, err := ForService(p, "web", Overrides{Name: "p-web-run-1", Env: map[string]string{"B": "3"}, User: "1000", Entrypoint: []string{"/bin/sh", "-c"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "p-web-run-1" || got.Environment["A"] != "1" || got.Environment["B"] != "3" || got.User != "1000" ||
		!slices.Equal(got.Command, []string{"/bin/sh", "-c", "/bin/web"}) || got.Ports != nil || got.Healthcheck != nil ||
		got.DependsOn != nil || got.Restart.Policy != spec.RestartNo {
		t.Errorf("ForService(web) = %+v", got)
	}
	if web.Environment["B"] != "2" || web.Name != "web" || len(web.Ports) != 1 {
		t.Errorf("ForService changed the project's service: %+v", web)
	}
	if got, _ := ForService(p, "web", Overrides{Command: []string{"/bin/true"}, ServicePorts: true}); len(got.Ports) != 1 || !slices.Equal(got.Command, []string{"/bin/true"}) {
		t.Errorf("ForService(web, --service-ports, CMD) = %+v", got)
	}
	if got, _ := ForService(p, "img", Overrides{Entrypoint: []string{}}); got.Entrypoint == nil || len(got.Entrypoint) != 0 || got.Command != nil {
		t.Errorf("ForService(img, --entrypoint '') = %+v, want the image's entrypoint cleared", got)
	}
	if _, err := ForService(p, "nope", Overrides{}); err == nil {
		t.Error("ForService of an unknown service: no error")
	}
	if d, n := Dependencies(p, "web"), Networks(p, "web"); !slices.Equal(d, []string{"db"}) || !slices.Equal(n, []string{"back", "front"}) {
		t.Errorf("Dependencies %v, Networks %v", d, n)
	}
}
