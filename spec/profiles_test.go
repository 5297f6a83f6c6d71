package spec

import (
	"slices"
	"strings"
	"testing"
)

func TestProfilesSelectServices(t *testing.T) {
	const file = `
services:
  web: {command: [x]}
  debug: {command: [x], profiles: [debug, tools]}
  admin: {command: [x], profiles: [admin], depends_on: [helper]}
  helper: {command: [x], profiles: [helper]}
`
	cases := []struct {
		name     string
		env      map[string]string
		profiles []string
		named    []string
		want     string // running services, sorted
	}{
		{"none active", nil, nil, nil, "web"},
		{"flag", nil, []string{"tools"}, nil, "debug web"},
		{"COMPOSE_PROFILES", map[string]string{"COMPOSE_PROFILES": "debug, helper"}, nil, nil, "debug helper web"},
		{"NUCLEUS_PROFILES wins", map[string]string{"COMPOSE_PROFILES": "debug", "NUCLEUS_PROFILES": "helper"}, nil, nil, "helper web"},
		{"flag wins over env", map[string]string{"COMPOSE_PROFILES": "debug"}, []string{"helper"}, nil, "helper web"},
		{"all", nil, []string{"*"}, nil, "admin debug helper web"},
		{"named service with its dependencies", nil, nil, []string{"admin"}, "admin helper web"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"nucleus.yaml": file})
			env := c.env
			if env == nil {
				env = map[string]string{}
			}
			p, err := Load(LoadOptions{WorkingDir: dir, Environ: env, Profiles: c.profiles, Services: c.named})
			if err != nil {
				t.Fatal(err)
			}
			got := sortedKeys(p.Services)
			if strings.Join(got, " ") != c.want {
				t.Errorf("services = %v, want %s", got, c.want)
			}
			for _, d := range p.Disabled {
				if slices.Contains(got, d) {
					t.Errorf("%s both runs and is disabled", d)
				}
			}
		})
	}
}

func TestProfilesFromDotEnvAndErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"nucleus.yaml": "services:\n  a: {command: [x], profiles: [p]}\n",
		".env":         "COMPOSE_PROFILES=p\n",
	})
	p, err := Load(LoadOptions{WorkingDir: dir, Environ: map[string]string{}})
	if err != nil || p.Services["a"] == nil || strings.Join(p.ActiveProfiles, ",") != "p" {
		t.Fatalf("COMPOSE_PROFILES in .env not applied: %v %v", p, err)
	}
	// depends_on on a disabled service names both, at the dependency.
	_, err = loadString(t, `
services:
  web:
    command: [x]
    depends_on: [cache]
  cache: {command: [x], profiles: [cache]}
`)
	want := "nucleus.yaml:5:18: services.web.depends_on: service web depends on service cache, which is not enabled: its profiles (cache) are not active"
	if got := errorLines(err); len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("errors = %q\nwant %s", got, want)
	}
	// required: false: the dependent runs without it, as in Compose.
	p, err = loadString(t, `
services:
  web:
    command: [x]
    depends_on: {cache: {required: false}}
  cache: {command: [x], profiles: [cache]}
`)
	if err != nil || p.Services["web"] == nil || p.Services["cache"] != nil {
		t.Errorf("an optional dependency on a disabled service: %v, %v; want web alone", p, err)
	}
}
