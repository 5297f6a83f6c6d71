package compose

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"nucleus/internal/testutil"
)

// The real-world corpus: Compose files of public projects (see
// testdata/corpus/SOURCES.md for repository, path, commit and licence of
// each). Their text is not part of this repository; the test reads them
// from $NUCLEUS_COMPOSE_CORPUS, else from shared/compose-corpus beside the
// checkout (where CI has shared/).
const corpusEnv = "NUCLEUS_COMPOSE_CORPUS"

func corpusDir(t *testing.T) string {
	if d := os.Getenv(corpusEnv); d != "" {
		return d
	}
	d, err := filepath.Abs("../../shared/compose-corpus")
	if err != nil {
		t.Fatal(err)
	}
	if !testutil.FileExists(d) {
		// Not a kernel prerequisite: the corpus is data kept outside the
		// repository, so its absence skips even in CI.
		t.Skipf("no compose corpus at %s (set %s; testdata/corpus/SOURCES.md lists the files)", d, corpusEnv)
	}
	return d
}

// corpusInvalid are corpus files that `docker compose config` refuses
// too, and why: they stay in the corpus as they are published.
var corpusInvalid = map[string]string{
	"docker-library__docs/yourls/compose.yaml": "service mysql mounts volume db, which the file does not declare",
}

// corpusFiles lists the Compose files under dir, relative to it.
func corpusFiles(t *testing.T, dir string) []string {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n := d.Name()
		if !d.IsDir() && (strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".yaml")) {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// corpusConvert maps a loaded project onto nucleus.yaml; nil until the
// converter exists (corpus_convert_test.go sets it), and the corpus is
// then only loaded and classified.
var corpusConvert func(p *types.Project) (nucleusYAML []byte, warnings []string, err error)

// corpusValidate loads converted output as nucleus would (spec.Load);
// set with corpusConvert.
var corpusValidate func(dir, file string) error

// buildOnly names the services that build and name no image: nucleus runs
// existing images, so such a file must be refused.
func buildOnly(p *types.Project) []string {
	var s []string
	for name, svc := range p.Services {
		if svc.Build != nil && svc.Image == "" {
			s = append(s, name)
		}
	}
	sort.Strings(s)
	return s
}

// serviceKeys counts the service-level keys a file uses (a key counts once
// per service), read from the raw YAML so defaults do not show.
func serviceKeys(path string, into map[string]int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	for _, svc := range doc.Services {
		for k := range svc {
			into[k]++
		}
	}
	return nil
}

// ranked prints a count map highest first.
func ranked(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %4d %s\n", m[k], k)
	}
	return b.String()
}

// warningKey is the key a converter warning is about: the last path
// element before ": " in "FILE:LINE:COL: services.web.KEY: text".
func warningKey(w string) string {
	for _, f := range strings.Split(w, ": ") {
		if strings.HasPrefix(f, "services.") || strings.HasPrefix(f, "networks.") ||
			strings.HasPrefix(f, "volumes.") || strings.HasPrefix(f, "secrets.") || strings.HasPrefix(f, "configs.") {
			parts := strings.Split(f, ".")
			if parts[0] == "services" && len(parts) > 2 {
				return "services.*." + strings.Join(parts[2:], ".")
			}
			if len(parts) > 2 {
				return parts[0] + ".*." + strings.Join(parts[2:], ".")
			}
			return f
		}
	}
	return "(no key) " + w
}

// TestCorpus runs every real-world Compose file through compose-go and,
// once it exists, the converter: files whose services all name images must
// convert to a project that spec.Load accepts; files with a build-only
// service must be refused with a message that says nucleus runs existing
// images. The summary (counts, keys used, warnings per key) goes to the
// test log.
func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	files := corpusFiles(t, dir)
	if len(files) < 30 {
		t.Fatalf("%s holds %d compose files, want the 30 or more of SOURCES.md", dir, len(files))
	}
	keys := map[string]int{}
	warned := map[string]int{}
	var loaded, imageOnly, withBuild, converted, refused int
	var failures []string
	for _, rel := range files {
		path := filepath.Join(dir, rel)
		if err := serviceKeys(path, keys); err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		p, err := Load(context.Background(), LoadOptions{
			Files: []string{path}, Name: "corpus", Env: corpusEnviron(filepath.Dir(path))})
		if why, ok := corpusInvalid[filepath.ToSlash(rel)]; ok {
			if err == nil {
				t.Errorf("%s: loads, but the test lists it as invalid upstream (%s)", rel, why)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: compose-go does not load it: %v", rel, err)
			continue
		}
		loaded++
		builds := buildOnly(p)
		if len(builds) > 0 {
			withBuild++
		} else {
			imageOnly++
		}
		if corpusConvert == nil {
			continue
		}
		out, warnings, err := corpusConvert(p)
		for _, w := range warnings {
			warned[warningKey(w)]++
		}
		switch {
		case len(builds) > 0 && err == nil:
			failures = append(failures, fmt.Sprintf("%s: converted although %s only build(s) an image", rel, strings.Join(builds, ", ")))
		case len(builds) > 0:
			refused++
			if !strings.Contains(err.Error(), "build") || !strings.Contains(err.Error(), builds[0]) {
				failures = append(failures, fmt.Sprintf("%s: refused with %q; want it to name service %s and say that nucleus does not build images", rel, err, builds[0]))
			}
		case err != nil:
			failures = append(failures, fmt.Sprintf("%s: image-only file not converted: %v", rel, err))
		default:
			tmp := t.TempDir()
			f := filepath.Join(tmp, "nucleus.yaml")
			if err := os.WriteFile(f, out, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := corpusValidate(tmp, f); err != nil {
				failures = append(failures, fmt.Sprintf("%s: converted output does not load: %v", rel, err))
				continue
			}
			converted++
		}
	}
	t.Logf("corpus %s: %d files, %d load with compose-go, %d image-only, %d with a build-only service", dir, len(files), loaded, imageOnly, withBuild)
	if corpusConvert != nil {
		t.Logf("converted and valid: %d of %d image-only; refused (build): %d of %d", converted, imageOnly, refused, withBuild)
		t.Logf("converter warnings per key, ranked:\n%s", ranked(warned))
	}
	t.Logf("service keys used (services using each), ranked:\n%s", ranked(keys))
	for _, f := range failures {
		t.Error(f)
	}
}

// corpusEnviron is the environment a file is loaded with: a dummy value
// for every variable the file requires with ${VAR:?msg} / ${VAR?msg}, as
// its README asks the user to set, plus PATH. The .env beside the file
// (if any) is read by compose-go itself.
func corpusEnviron(dir string) []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	if b, err := os.ReadFile(filepath.Join(dir, "corpus.env")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				env = append(env, l)
			}
		}
	}
	return env
}
