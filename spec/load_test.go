package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

func TestDiscoveryUpwardsWithOverride(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"My Shop!/nucleus.yml":           "services:\n  web: {command: [a], environment: {A: base, B: base}}\n",
		"My Shop!/nucleus.override.yaml": "services:\n  web: {environment: {B: override}}\n",
		"My Shop!/sub/deeper/.keep":      "",
	})
	p, err := Load(LoadOptions{WorkingDir: filepath.Join(dir, "My Shop!", "sub", "deeper"), Environ: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir != filepath.Join(dir, "My Shop!") {
		t.Errorf("Dir = %s", p.Dir)
	}
	if p.Name != "myshop" {
		t.Errorf("Name = %q, want the directory name reduced to myshop", p.Name)
	}
	if len(p.Files) != 2 || filepath.Base(p.Files[1]) != "nucleus.override.yaml" {
		t.Errorf("Files = %v", p.Files)
	}
	if env := p.Services["web"].Environment; env["A"] != "base" || env["B"] != "override" {
		t.Errorf("override not merged: %v", env)
	}
}

func TestDiscoveryPrefersYamlAndReportsMissing(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"nucleus.yaml": "name: from-yaml\n",
		"nucleus.yml":  "name: from-yml\n",
	})
	p, err := Load(LoadOptions{WorkingDir: dir, Environ: map[string]string{}})
	if err != nil || p.Name != "from-yaml" {
		t.Fatalf("got %v, %v; want nucleus.yaml to win", p, err)
	}
	_, err = Load(LoadOptions{WorkingDir: t.TempDir(), Environ: map[string]string{}})
	if !errors.Is(err, ErrNoProject) {
		t.Errorf("empty dir: err = %v, want ErrNoProject", err)
	}
}

// TestMergeFiles: -f files merge maps key by key, scalars and lists replace,
// and errors point at the file that provided the value.
func TestMergeFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"base.yaml": `name: base
services:
  web:
    command: [serve, --base]
    environment: {A: "1", B: "2"}
    ports: ["8080:80", "8443:443"]
    resources: {memory: 64M, cpus: 1}
  db:
    command: [db]
`,
		"prod.yaml": `name: prod
services:
  web:
    command: [serve, --prod]
    environment: {B: "20", C: "30"}
    ports: ["9090:80"]
    resources: {cpus: 2}
`,
	})
	p, err := Load(LoadOptions{WorkingDir: dir, Files: []string{"base.yaml", "prod.yaml"}, Environ: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	web := p.Services["web"]
	if p.Name != "prod" || p.Dir != dir {
		t.Errorf("name %q dir %q", p.Name, p.Dir)
	}
	if !reflect.DeepEqual(web.Command, []string{"serve", "--prod"}) {
		t.Errorf("lists replace: command = %v", web.Command)
	}
	if !reflect.DeepEqual(web.Environment, map[string]string{"A": "1", "B": "20", "C": "30"}) {
		t.Errorf("maps merge: environment = %v", web.Environment)
	}
	if len(web.Ports) != 1 || web.Ports[0].Published != 9090 {
		t.Errorf("lists replace: ports = %v", web.Ports)
	}
	if web.Resources.Memory != 64<<20 || web.Resources.CPUs != 2 {
		t.Errorf("nested maps merge: resources = %+v", web.Resources)
	}
	if _, ok := p.Services["db"]; !ok {
		t.Error("db from the first file is gone")
	}

	// Errors from both files, sorted by file order then line, each pointing
	// at the file that wrote the value.
	bad := writeFiles(t, map[string]string{
		"a.yaml": "services:\n  web:\n    command: [x]\n    ports: [\"8080:80\"]\n    replicas: many\n",
		"b.yaml": "services:\n  api:\n    command: [y]\n    ports: [\"8080:81\"]\n  web:\n    stop_signal: NOPE\n",
	})
	_, err = Load(LoadOptions{WorkingDir: bad, Files: []string{"a.yaml", "b.yaml"}, Environ: map[string]string{}})
	want := []string{
		`a.yaml:5:15: services.web.replicas: expected a whole number, got "many"`,
		`b.yaml:4:13: services.api.ports[0]: host port 8080/tcp is already published by service web`,
		`b.yaml:6:18: services.web.stop_signal: unknown signal "NOPE"; expected a name like SIGTERM or TERM`,
	}
	if d := diffLines(errorLines(err), want); d != "" {
		t.Error(d)
	}
}

func TestResetOverrideAnchorsAndExtensions(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"nucleus.yaml": `x-common: &common
  restart: always
  environment: {LOG: info}
services:
  web:
    <<: *common
    command: [web]
    environment: {LOG: debug}
    ports: ["80:80"]
  api:
    <<: *common
    command: [api]
    healthcheck: {tcp: 80}
`,
		"nucleus.override.yaml": `services:
  web:
    ports: !reset []
  api:
    healthcheck: !override {test: "true"}
`,
	})
	p, err := Load(LoadOptions{WorkingDir: dir, Environ: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	web, api := p.Services["web"], p.Services["api"]
	if web.Restart.Policy != "always" || web.Environment["LOG"] != "debug" || api.Environment["LOG"] != "info" {
		t.Errorf("merge keys: web %+v %v, api %v", web.Restart, web.Environment, api.Environment)
	}
	if len(web.Ports) != 0 {
		t.Errorf("!reset: ports = %v", web.Ports)
	}
	if api.Healthcheck == nil || api.Healthcheck.Kind != HealthExec || api.Healthcheck.TCPPort != 0 {
		t.Errorf("!override: healthcheck = %+v", api.Healthcheck)
	}
}

func TestProjectNamePrecedence(t *testing.T) {
	dir := writeFiles(t, map[string]string{"Dir_Name/nucleus.yaml": "name: From-File\n"})
	wd := filepath.Join(dir, "Dir_Name")
	cases := []struct {
		opt  string
		env  map[string]string
		want string
	}{
		{opt: "Flag.Name", env: map[string]string{EnvProjectName: "env"}, want: "flagname"},
		{env: map[string]string{EnvProjectName: "Env Name"}, want: "envname"},
		{env: map[string]string{}, want: "from-file"},
	}
	for _, tc := range cases {
		p, err := Load(LoadOptions{WorkingDir: wd, ProjectName: tc.opt, Environ: tc.env})
		if err != nil || p.Name != tc.want {
			t.Errorf("opt %q env %v: got %v %v, want %q", tc.opt, tc.env, p, err, tc.want)
		}
	}
	testutil.WriteFile(t, filepath.Join(wd, "nucleus.yaml"), "services: {}\n")
	if p, err := Load(LoadOptions{WorkingDir: wd, Environ: map[string]string{}}); err != nil || p.Name != "dir_name" {
		t.Errorf("basename: got %v %v", p, err)
	}
	if _, err := Load(LoadOptions{WorkingDir: wd, ProjectName: "!!!", Environ: map[string]string{}}); err == nil ||
		!strings.Contains(err.Error(), `project name "!!!" (from -p/--project-name) has no letters or digits`) {
		t.Errorf("empty name: %v", err)
	}
}

func TestProjectDirectoryOption(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"files/nucleus.yaml": "services:\n  web: {command: [\"$X\"], volumes: [\"./data:/data\"]}\n",
		"proj/.env":          "X=from-proj\n",
	})
	p, err := Load(LoadOptions{WorkingDir: dir, Files: []string{"files/nucleus.yaml"}, ProjectDir: "proj", Environ: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	web := p.Services["web"]
	if p.Dir != filepath.Join(dir, "proj") || web.Command[0] != "from-proj" || web.Volumes[0].Source != filepath.Join(dir, "proj", "data") {
		t.Errorf("dir %s command %v volumes %+v", p.Dir, web.Command, web.Volumes)
	}
}

func TestYAMLProblems(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"services:\n  web: [\n", "nucleus.yaml:2:1: invalid YAML: did not find expected node content"},
		// yaml.v3 names line 1 (where the mapping starts) for these; the
		// error is on the line with the slip.
		{"services:\n  web:\n    command: [a]\n   ports: [\"8080\"]\n", "nucleus.yaml:4:1: invalid YAML: did not find expected key (in the block that starts at line 1: check this line's indentation)"},
		{"name: x\nservices:\n  db: {command: [db]\n  web: {command: [w]}\n", "nucleus.yaml:3:1: invalid YAML: did not find expected ',' or '}' (in the block that starts at line 2)"},
		{"services: {}\n---\nservices: {}\n", "nucleus.yaml:2:1: a project file holds one YAML document; found another one here"},
		{"- a\n- b\n", "nucleus.yaml:1:1: expected a mapping with services, networks and volumes at the top level, got a list"},
		{"services:\n  web: !!binary aGk=\n", `nucleus.yaml:2:8: services.web: unsupported YAML tag "!!binary"`},
		{"services:\n  ? [a]\n  : b\n", "nucleus.yaml:2:5: services: mapping keys must be strings, not a list"},
	}
	for _, tc := range cases {
		_, err := loadString(t, tc.yaml)
		got := errorLines(err)
		if !slices.Contains(got, tc.want) {
			t.Errorf("%q:\n got %q\nwant %q", tc.yaml, got, tc.want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	wd, _ := os.Getwd()
	e := &Error{File: filepath.Join(wd, "testdata", "x.yaml"), Line: 14, Col: 7, Path: "services.web.ports[1]", Msg: "host port 8080/tcp is already published by service api"}
	if got := e.Error(); got != "testdata/x.yaml:14:7: services.web.ports[1]: host port 8080/tcp is already published by service api" {
		t.Errorf("Error() = %q", got)
	}
	e = &Error{File: "/elsewhere/x.yaml", Msg: "m"}
	if got := e.Error(); got != "/elsewhere/x.yaml: m" {
		t.Errorf("Error() = %q", got)
	}
	l := ErrorList{{File: "a", Line: 2, Col: 1, Msg: "two"}, {File: "a", Line: 1, Col: 5, Msg: "one"}, {File: "a", Line: 1, Col: 5, Msg: "one"}}.sort()
	if l.Error() != "a:1:5: one\na:2:1: two" {
		t.Errorf("sorted list = %q", l.Error())
	}
}

// TestAliasBombStaysSmall: aliases share the anchor's tree, so a "billion
// laughs" document produces a handful of errors instead of exploding.
func TestAliasBombStaysSmall(t *testing.T) {
	bomb := "x-a: &a [x,x,x,x,x,x,x,x,x]\nx-b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nx-c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
		"x-d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nx-e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nx-f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n" +
		"services: {web: {command: *f, ports: *f}}\n"
	_, err := loadString(t, bomb)
	if got := errorLines(err); len(got) != 18 {
		t.Errorf("got %d errors, want 18 (9 per expanded list):\n%s", len(got), strings.Join(got, "\n"))
	}
}

// TestEnvFileErrorsPointIntoTheEnvFile: problems inside .env and env_files
// are reported at their own file and line, after the YAML's errors.
func TestEnvFileErrorsPointIntoTheEnvFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"nucleus.yaml": "services:\n  web:\n    env_file: [a.env]\n    stop_signal: NOPE\n",
		"a.env":        "OK=1\n9BAD=2\nX=${NOPE}\n",
		".env":         "Y=${ALSO_NOPE}\n",
	})
	_, err := Load(LoadOptions{WorkingDir: dir, Environ: map[string]string{}})
	want := []string{
		`nucleus.yaml:4:18: services.web.stop_signal: unknown signal "NOPE"; expected a name like SIGTERM or TERM`,
		`.env:1:1: Y: variable ALSO_NOPE is not set; set it in the environment or in .env, give a default with ${ALSO_NOPE:-default}, or write ${ALSO_NOPE:-} for an empty value as Compose does`,
		`a.env:2:1: services.web.env_file[0]: invalid variable name "9BAD"; expected KEY=VALUE`,
		`a.env:3:1: services.web.env_file[0]: X: variable NOPE is not set; set it in the environment or in .env, give a default with ${NOPE:-default}, or write ${NOPE:-} for an empty value as Compose does`,
	}
	if d := diffLines(errorLines(err), want); d != "" {
		t.Error(d)
	}
}

// TestNoFollowUpErrors: a failed interpolation or a file that does not parse
// is reported once, without errors that only follow from it.
func TestNoFollowUpErrors(t *testing.T) {
	_, err := loadString(t, "services:\n  web:\n    command: [x]\n    ports: [\"${PORT}:80\"]\n    replicas: ${N}\n")
	want := []string{
		"nucleus.yaml:4:13: services.web.ports[0]: variable PORT is not set; set it in the environment or in .env, give a default with ${PORT:-default}, or write ${PORT:-} for an empty value as Compose does",
		"nucleus.yaml:5:15: services.web.replicas: variable N is not set; set it in the environment or in .env, give a default with ${N:-default}, or write ${N:-} for an empty value as Compose does",
	}
	if d := diffLines(errorLines(err), want); d != "" {
		t.Error(d)
	}
	dir := writeFiles(t, map[string]string{
		"base.yaml": "services:\n  db: {command: [db]\n",
		"over.yaml": "services:\n  web: {command: [x], depends_on: [db]}\n",
	})
	_, err = Load(LoadOptions{WorkingDir: dir, Files: []string{"base.yaml", "over.yaml"}, Environ: map[string]string{}})
	if got := errorLines(err); len(got) != 1 || !strings.HasPrefix(got[0], "base.yaml:2:1: invalid YAML") {
		t.Errorf("errors = %q, want only the syntax error of base.yaml", got)
	}
}
