package schema_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"nucleus/schema"
)

// The documentation's YAML must stay true: every complete project shown in
// README.md and docs/file-format.md validates against the schema and loads
// with spec.Load, and the error example prints exactly what the docs say.

type block struct {
	file, heading, lang, text string
}

var fence = regexp.MustCompile("(?s)```([a-z]*)\n(.*?)```")

// blocks returns the fenced code blocks of a markdown file with the heading
// they appear under.
func blocks(t *testing.T, file string) []block {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	var out []block
	for _, m := range fence.FindAllStringSubmatchIndex(text, -1) {
		heading := ""
		before := text[:m[0]]
		if i := strings.LastIndex(before, "\n#"); i >= 0 {
			heading = strings.TrimSpace(strings.TrimLeft(strings.SplitN(before[i+1:], "\n", 2)[0], "# "))
		}
		out = append(out, block{file, heading, text[m[2]:m[3]], text[m[4]:m[5]]})
	}
	return out
}

// isProject reports whether a YAML block is a whole project (has services
// at the top level) rather than a fragment of one.
func isProject(text string) bool {
	var m map[string]any
	if yaml.Unmarshal([]byte(text), &m) != nil {
		return false
	}
	_, ok := m["services"]
	return ok
}

func TestDocumentedProjectsAreValid(t *testing.T) {
	n := 0
	for _, f := range []string{"../README.md", "../docs/file-format.md"} {
		for _, b := range blocks(t, f) {
			if b.lang != "yaml" || !isProject(b.text) || b.heading == "Errors" {
				continue
			}
			n++
			t.Run(filepath.Base(f)+"/"+b.heading, func(t *testing.T) {
				if err := schema.ValidateYAML([]byte(b.text)); err != nil {
					t.Errorf("schema rejects the project shown under %q in %s:\n%v\n%s", b.heading, f, err, b.text)
				}
				if _, err := loadIn(t, b.text); err != nil {
					t.Errorf("spec.Load rejects the project shown under %q in %s:\n%v\n%s", b.heading, f, err, b.text)
				}
			})
		}
	}
	// README: hello and the tour; file-format: anchors and the complete example.
	if n < 4 {
		t.Fatalf("found %d documented projects; expected at least 4 (is the markdown parsing broken?)", n)
	}
}

func TestDocumentedErrorOutput(t *testing.T) {
	var in, want string
	for _, b := range blocks(t, "../docs/file-format.md") {
		if b.heading != "Errors" {
			continue
		}
		switch {
		case b.lang == "yaml":
			in = b.text
		case in != "" && strings.Contains(b.text, "nucleus.yaml:"):
			want = b.text
		}
	}
	if in == "" || want == "" {
		t.Fatal("docs/file-format.md: the Errors section needs a yaml block and the output block after it")
	}
	if err := schema.ValidateYAML([]byte(in)); err == nil {
		t.Error("the schema accepts the documented invalid file")
	}
	_, err := loadIn(t, in)
	if err == nil {
		t.Fatal("spec.Load accepts the documented invalid file")
	}
	if got := strings.TrimSpace(err.Error()); got != strings.TrimSpace(want) {
		t.Errorf("docs/file-format.md shows:\n%s\nbut nucleus prints:\n%s", want, got)
	}
}
