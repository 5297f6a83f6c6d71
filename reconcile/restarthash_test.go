package reconcile

import (
	"testing"

	"nucleus/spec"
)

// TestRestartHashIgnoresLiveFieldsOnly: a replica keeps what it wrote
// through in-place updates (resources, aliases), not through a change that
// replaces it (environment, a network's address).
func TestRestartHashIgnoresLiveFieldsOnly(t *testing.T) {
	base := func() *spec.Service {
		return &spec.Service{Name: "web", Command: []string{"/bin/true"}, Environment: map[string]string{"A": "1"},
			Resources: spec.Resources{Memory: 64 << 20},
			Networks:  map[string]*spec.ServiceNetwork{"front": {Aliases: []string{"w"}}}}
	}
	h := RestartHash(base())
	live := base()
	live.Resources.Memory, live.Networks["front"].Aliases = 128<<20, []string{"x"}
	if RestartHash(live) != h {
		t.Errorf("a live change (memory, alias) changed the restart hash")
	}
	for name, change := range map[string]func(*spec.Service){
		"environment":  func(s *spec.Service) { s.Environment["A"] = "2" },
		"ipv4_address": func(s *spec.Service) { s.Networks["front"].IPv4Address = "10.0.0.9" },
		"networks":     func(s *spec.Service) { s.Networks["back"] = &spec.ServiceNetwork{} },
	} {
		s := base()
		change(s)
		if RestartHash(s) == h {
			t.Errorf("a change of %s kept the restart hash", name)
		}
	}
}
