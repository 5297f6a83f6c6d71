package compose

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"nucleus/internal/testutil"
	"nucleus/spec"
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

// corpusFiles lists the Compose files (*compose*.y[a]ml) under dir, relative to it.
func corpusFiles(t *testing.T, dir string) []string {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n := d.Name()
		if !d.IsDir() && strings.Contains(n, "compose") && (strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".yaml")) {
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

// corpusConvert converts the files o names (Convert): the nucleus.yaml,
// the warnings as printed, and those about what matters and could not be
// mapped.
func corpusConvert(ctx context.Context, o LoadOptions) (out []byte, warnings, fatal []string, err error) {
	r, err := Convert(ctx, o)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, w := range r.Warnings {
		warnings = append(warnings, w.String())
		if w.Fatal {
			fatal = append(fatal, w.String())
		}
	}
	return r.YAML, warnings, fatal, nil
}

// corpusRefused are image-only files that nucleus refuses by design, and
// what the refusal must say.
var corpusRefused = map[string]string{
	"docker__awesome-compose/plex/compose.yaml":                "services.plex.network_mode: host refused",
	"docker__awesome-compose/wasmedge-kafka-mysql/compose.yml": "platform wasi/wasm cannot run here",
	"docker__awesome-compose/wasmedge-mysql-nginx/compose.yml": "platform wasi/wasm cannot run here",
}

// corpusGaps are image-only files that do not convert yet although they
// should: each names the missing mapping. A file that converts fails the
// test until it is taken off this list.
var corpusGaps = map[string]string{}

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

// countServiceKeys counts the service-level keys a file uses (a key counts once
// per service), read from the raw YAML so defaults do not show.
func countServiceKeys(path string, into map[string]int) error {
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

// warningKey is the key a converter warning is about, with service,
// volume and network names and list indexes replaced by *:
// "FILE:LINE:COL: services.web.environment[2]: text" is
// services.*.environment. A note on a whole service is keyed by its first
// word ("services.* read_only").
func warningKey(w string) string {
	fields := strings.Split(w, ": ")
	for i, f := range fields {
		top, rest, ok := strings.Cut(f, ".")
		if !ok || strings.ContainsAny(f, " /") {
			continue
		}
		switch top {
		case "services", "networks", "volumes", "secrets", "configs", "x-shared", "x-runner":
		default:
			continue
		}
		_, key, hasKey := strings.Cut(rest, ".")
		if k, _, ok := strings.Cut(key, "["); ok {
			key = k
		}
		if hasKey {
			return top + ".*." + key
		}
		note := ""
		if i+1 < len(fields) {
			note, _, _ = strings.Cut(fields[i+1], " ")
		}
		return top + ".* " + note
	}
	if len(fields) > 1 {
		// A top-level key: "FILE:L:C: version: ignored ..."
		for _, f := range fields {
			if !strings.ContainsAny(f, " /") {
				return f
			}
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
	var loaded, imageOnly, withBuild, converted, refused, refusedByDesign, gaps int
	var failures []string
	for _, rel := range files {
		path := filepath.Join(dir, rel)
		if err := countServiceKeys(path, keys); err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		opts := LoadOptions{Files: []string{path}, Name: "corpus", Env: corpusEnviron(filepath.Dir(path))}
		p, err := Load(context.Background(), opts)
		key := filepath.ToSlash(rel)
		if why, ok := corpusInvalid[key]; ok {
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
		out, warnings, fatal, err := corpusConvert(context.Background(), opts)
		for _, w := range warnings {
			warned[warningKey(w)]++
		}
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("%s: convert: %v", rel, err))
		case len(builds) > 0 && len(fatal) == 0:
			failures = append(failures, fmt.Sprintf("%s: converted although %s only build(s) an image", rel, strings.Join(builds, ", ")))
		case len(builds) > 0:
			refused++
			if !slices.ContainsFunc(fatal, func(w string) bool {
				return strings.Contains(w, "services."+builds[0]+".build") && strings.Contains(w, "does not build images")
			}) {
				failures = append(failures, fmt.Sprintf("%s: refused, but no warning names services.%s.build and says that nucleus does not build images:\n%s", rel, builds[0], strings.Join(fatal, "\n")))
			}
		case corpusRefused[key] != "":
			if !slices.ContainsFunc(fatal, func(w string) bool { return strings.Contains(w, corpusRefused[key]) }) {
				failures = append(failures, fmt.Sprintf("%s: want it refused with %q, got:\n  %s", rel, corpusRefused[key], strings.Join(fatal, "\n  ")))
			}
			refusedByDesign++
		case len(fatal) > 0 && corpusGaps[key] != "":
			t.Logf("GAP %s: %s:\n  %s", rel, corpusGaps[key], strings.Join(fatal, "\n  "))
			gaps++
		case len(fatal) > 0:
			failures = append(failures, fmt.Sprintf("%s: image-only file not converted:\n  %s", rel, strings.Join(fatal, "\n  ")))
		default:
			f := filepath.Join(t.TempDir(), "nucleus.yaml")
			if err := os.WriteFile(f, out, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := spec.Load(spec.LoadOptions{Files: []string{f}, ProjectDir: filepath.Dir(path), Environ: map[string]string{}})
			switch {
			case err != nil && corpusGaps[key] != "":
				t.Logf("GAP %s: %s:\n  %v", rel, corpusGaps[key], err)
				gaps++
			case err != nil:
				failures = append(failures, fmt.Sprintf("%s: converted output does not load: %v", rel, err))
			case corpusGaps[key] != "":
				failures = append(failures, fmt.Sprintf("%s converts now: take it off corpusGaps (%s)", rel, corpusGaps[key]))
			default:
				converted++
			}
		}
	}
	t.Logf("corpus %s: %d files, %d load with compose-go, %d image-only, %d with a build-only service", dir, len(files), loaded, imageOnly, withBuild)
	t.Logf("image-only: %d converted to a project spec.Load accepts, %d refused by design (network_mode host, wasm platform), %d known gaps, of %d; build-only: %d of %d refused naming the service",
		converted, refusedByDesign, gaps, imageOnly, refused, withBuild)
	t.Logf("converter warnings per key (one per warning), ranked:\n%s", ranked(warned))
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
