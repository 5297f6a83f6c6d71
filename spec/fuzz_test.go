package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"

	"nucleus/internal/testutil"
)

// FuzzLoad feeds arbitrary bytes to the loader. It must never panic; a
// successful load must hash, diff against itself to nothing, and survive a
// round trip through its printed form; and the split parse used for large
// files must agree with the whole-file parse.
// Seeds: testdata/fuzz/FuzzLoad (regenerate with NUCLEUS_WRITE_SEEDS=1 go test -run TestWriteFuzzSeeds).
func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	for name, content := range ruleFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".env.web"), []byte("A=1\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	env := map[string]string{"FOO": "bar", "EMPTY": ""}
	f.Add([]byte("services:\n  web: {command: [\"${FOO}\"]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := source{path: filepath.Join(dir, "nucleus.yaml"), data: data}
		p, err := load([]source{src}, dir, "", env, nil, nil)
		if err != nil {
			if list, ok := err.(ErrorList); !ok || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %#v", err)
			}
			return
		}
		for _, s := range p.Services {
			_ = ServiceHash(s)
			if d := Diff(s, s); len(d) != 0 {
				t.Fatalf("Diff of a service with itself: %v", d)
			}
		}
		splitEqualsWhole(t, string(data), 2)
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := load([]source{{path: src.path, data: out}}, dir, "", env, nil, nil)
		if err != nil {
			t.Fatalf("printed form does not load: %v\n%s", err, out)
		}
		for name, s := range p.Services {
			if a := again.Services[name]; a == nil || ServiceHash(a) != ServiceHash(s) {
				t.Fatalf("service %s changed in the round trip:\n%s", name, out)
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpus from the
// validation cases and the full example.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("NUCLEUS_WRITE_SEEDS") == "" {
		t.Skip("set NUCLEUS_WRITE_SEEDS=1 to regenerate testdata/fuzz/FuzzLoad")
	}
	var seeds []string
	full, err := os.ReadFile("testdata/full/nucleus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seeds = append(seeds, string(full), benchProject(3, 2))
	for _, c := range ruleCases {
		seeds = append(seeds, c.yaml)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzLoad")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		sum := sha256.Sum256([]byte(s))
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(s) + ")\n"
		testutil.WriteFile(t, filepath.Join(dir, hex.EncodeToString(sum[:8])), body)
	}
}
