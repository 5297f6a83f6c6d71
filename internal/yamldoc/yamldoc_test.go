package yamldoc

import (
	"os"
	"path/filepath"
	"testing"
)

// TestParse: sources win over the disk, unreadable and empty files are
// left out, the order is kept.
func TestParse(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(a, []byte("on: disk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("x: 1\ny: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := Parse([]string{a, filepath.Join(dir, "missing.yaml"), b, "empty"}, map[string][]byte{a: []byte("\nfrom: sources\n"), "empty": nil})
	if len(got) != 2 || got[0].Name != a || got[1].Name != b {
		t.Fatalf("got %+v", got)
	}
	if k := got[0].Root.Content[0]; k.Value != "from" || k.Line != 2 {
		t.Errorf("a: first key %q at line %d, want from at 2 (the sources' bytes)", k.Value, k.Line)
	}
	if n := len(got[1].Root.Content); n != 4 {
		t.Errorf("b: %d nodes, want 4", n)
	}
}
