package spec

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// splitEqualsWhole parses text both ways and reports a difference. ok is
// false when the split parse declined (then nothing is compared).
func splitEqualsWhole(t testing.TB, text string, workers int) (ok bool) {
	t.Helper()
	env := func(k string) (string, bool) { return "v-" + k, !strings.HasPrefix(k, "UNSET") }
	src := source{path: "/p/nucleus.yaml", data: []byte(text)}
	var we, se errs
	whole := parseWhole(src, 0, env, &we)
	split, ok := parseSplit(src, 0, env, &se, workers)
	if !ok {
		return false
	}
	if !reflect.DeepEqual(whole, split) {
		t.Fatalf("split parse differs from whole parse for:\n%s", text)
	}
	if !reflect.DeepEqual(we.list.sort(), se.list.sort()) {
		t.Fatalf("split parse errors differ:\nwhole %v\nsplit %v\nfor:\n%s", we.list, se.list, text)
	}
	return true
}

func TestSplitParseEqualsWholeParse(t *testing.T) {
	cases := map[string]string{
		"bench": benchProject(50, 5),
		"comments and blank lines": `# top
name: x
services:
  # a comment at entry indent

  a:
    command: [a]   # trailing
# a comment at column 0
  b: {command: [b]}
  c:
    environment:
      K: |
        multi
        line
networks:
  n: {}
`,
		"services not last":        "services:\n  a: {command: [\"${X}\"]}\n  b: {command: [\"${UNSET_Y}\"]}\n  c: {}\nvolumes:\n  v: {}\n",
		"duplicate across pieces":  "services:\n  a: {}\n  b: {}\n  a: {}\n  c: {}\n",
		"services twice":           "services:\n  a: {}\n  b: {}\nservices:\n  c: {}\n",
		"anchors inside one piece": "services:\n  a: &x {command: [a]}\n  b: {command: [b]}\n  c: {command: [c]}\n",
	}
	for name, text := range cases {
		if !splitEqualsWhole(t, text, 2) {
			t.Errorf("%s: split parse declined", name)
		}
	}
	declined := map[string]string{
		"alias across pieces":    "services:\n  a: &x {command: [a]}\n  b: {command: [b]}\n  c: {command: [c]}\n  d: *x\n",
		"flow services":          "services: {a: {}, b: {}}\n",
		"alias to a head anchor": "x-c: &c {restart: always}\nservices:\n  a: {<<: *c}\n  b: {<<: *c}\n",
		"list services":          "services:\n  - a\n  - b\n",
		"syntax error":           "services:\n  a: {\n  b: {}\n",
	}
	for name, text := range declined {
		if splitEqualsWhole(t, text, 2) {
			t.Errorf("%s: split parse should have declined", name)
		}
	}
}

// TestLargeProjectSameResultInParallel: a project large enough for the split
// parse and parallel decoding gives the same services and the same errors
// as a strictly serial load.
func TestLargeProjectSameResultInParallel(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs at least 2 CPUs to take the parallel path")
	}
	text := benchProject(600, 10)
	valid := strings.Replace(text, "depends_on: [svc0]", "depends_on: []", 1)
	invalid := strings.Replace(text, "restart: on-failure:3\n", "restart: sometimes\n", 1)
	invalid = strings.Replace(invalid, "command: /usr/bin/server --port 8080 --name svc500\n", "command: \"echo 'unterminated\"\n", 1)
	invalid = strings.Replace(invalid, "memory: 64M", "memory: 1M", 1)
	for name, doc := range map[string]string{"valid": valid, "invalid": invalid} {
		dir := writeFiles(t, map[string]string{"nucleus.yaml": doc})
		opts := LoadOptions{WorkingDir: dir, Environ: map[string]string{}}
		par, perr := Load(opts)
		prev := runtime.GOMAXPROCS(1)
		ser, serr := Load(opts)
		runtime.GOMAXPROCS(prev)
		if d := diffLines(errorLines(perr), errorLines(serr)); d != "" {
			t.Errorf("%s: errors differ: %s", name, d)
		}
		if name == "invalid" && len(errorLines(perr)) < 3 {
			t.Errorf("invalid: only %v", errorLines(perr))
		}
		if (par == nil) != (ser == nil) {
			t.Fatalf("%s: one load failed", name)
		}
		if par != nil {
			if len(par.Services) != 600 {
				t.Errorf("%d services", len(par.Services))
			}
			for n, s := range ser.Services {
				if !reflect.DeepEqual(s, par.Services[n]) {
					t.Errorf("%s: service %s differs", name, n)
				}
			}
		}
	}
}
