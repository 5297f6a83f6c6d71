package schema_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"nucleus/schema"
)

// The spec package's own test projects and fuzz seed corpus are inputs
// written by someone else: every one the loader accepts must validate
// against the schema too.
func TestSchemaAcceptsWhatSpecTestdataLoads(t *testing.T) {
	var docs []string
	var names []string
	err := filepath.WalkDir("../spec/testdata", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml"):
			docs, names = append(docs, string(data)), append(names, p)
		case bytes.HasPrefix(data, []byte("go test fuzz v1\n")):
			// Each further line is one argument, e.g. []byte("...").
			for i, line := range strings.Split(string(data), "\n")[1:] {
				arg, ok := strings.CutPrefix(line, "[]byte(")
				if !ok {
					continue
				}
				if s, err := strconv.Unquote(strings.TrimSuffix(arg, ")")); err == nil {
					docs, names = append(docs, s), append(names, p+"#"+strconv.Itoa(i))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no YAML found under spec/testdata; the walk is broken")
	}
	accepted := 0
	for i, doc := range docs {
		p, err := loadIn(t, doc)
		if err != nil {
			continue // rejected by the loader: the schema may say anything
		}
		accepted++
		if err := schema.ValidateYAML([]byte(doc)); err != nil {
			t.Errorf("%s loads (project %s) but the schema rejects it:\n%v", names[i], p.Name, err)
		}
	}
	if accepted == 0 {
		t.Fatalf("the loader accepted none of %d inputs; nothing was compared", len(docs))
	}
	t.Logf("%d inputs, %d accepted by the loader and compared", len(docs), accepted)
}
