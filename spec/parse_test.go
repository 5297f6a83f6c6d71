package spec

import (
	"reflect"
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
		"alias across pieces": "services:\n  a: &x {command: [a]}\n  b: {command: [b]}\n  c: {command: [c]}\n  d: *x\n",
		"flow services":       "services: {a: {}, b: {}}\n",
		"list services":       "services:\n  - a\n  - b\n",
		"syntax error":        "services:\n  a: {\n  b: {}\n",
	}
	for name, text := range declined {
		if splitEqualsWhole(t, text, 2) {
			t.Errorf("%s: split parse should have declined", name)
		}
	}
}
