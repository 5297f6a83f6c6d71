package schema_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"nucleus/schema"
	"nucleus/spec"
)

// The normalised project (what `nucleus config` prints) is itself valid
// input: it validates against the schema, and loading it again gives the
// same project. So the long forms in the schema are the ones nucleus prints.
func TestNormalisedOutputIsValidInput(t *testing.T) {
	for _, f := range exampleFiles(t) {
		t.Run(f, func(t *testing.T) {
			p, err := spec.Load(spec.LoadOptions{Files: []string{f}, Environ: map[string]string{}})
			if err != nil {
				t.Fatalf("load %s: %v", f, err)
			}
			out, err := yaml.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.ValidateYAML(out); err != nil {
				t.Errorf("the normalised form of %s does not validate against the schema:\n%v\n%s", f, err, out)
			}
			// Paths in the normalised form are absolute, so it loads from
			// anywhere. Values are already interpolated: a literal $ must be
			// written $$ to survive a second load.
			again := filepath.Join(t.TempDir(), "nucleus.yaml")
			if err := os.WriteFile(again, escapeDollars(t, p), 0o644); err != nil {
				t.Fatal(err)
			}
			p2, err := spec.Load(spec.LoadOptions{Files: []string{again}, Environ: map[string]string{}})
			if err != nil {
				t.Fatalf("the normalised form of %s does not load:\n%v", f, err)
			}
			if !reflect.DeepEqual(p.Services, p2.Services) || !reflect.DeepEqual(p.Networks, p2.Networks) || !reflect.DeepEqual(p.Volumes, p2.Volumes) {
				out2, _ := yaml.Marshal(p2)
				t.Errorf("loading the normalised form of %s changes the project:\nfirst:\n%s\nagain:\n%s", f, out, out2)
			}
		})
	}
}

// escapeDollars encodes v as YAML with every $ in a string written as $$.
func escapeDollars(t *testing.T, v any) []byte {
	t.Helper()
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		t.Fatal(err)
	}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			n.Value = strings.ReplaceAll(n.Value, "$", "$$")
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&n)
	out, err := yaml.Marshal(&n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
