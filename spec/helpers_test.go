package spec

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// writeFiles creates files (name -> content) in a new temporary directory.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	return testutil.WriteFiles(t, t.TempDir(), files)
}

// loadString loads one nucleus.yaml with an empty process environment.
func loadString(t testing.TB, yaml string) (*Project, error) {
	t.Helper()
	dir := writeFiles(t, map[string]string{"nucleus.yaml": yaml})
	return Load(LoadOptions{WorkingDir: dir, Environ: map[string]string{}})
}

// mustLoad loads files from a fresh directory and fails the test on error.
func mustLoad(t testing.TB, files map[string]string, env map[string]string) *Project {
	t.Helper()
	dir := writeFiles(t, files)
	if env == nil {
		env = map[string]string{}
	}
	p, err := Load(LoadOptions{WorkingDir: dir, Environ: env})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

// errorLines renders an ErrorList with base file names, one string per error.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	var list ErrorList
	if !errors.As(err, &list) {
		return []string{"NOT AN ErrorList: " + err.Error()}
	}
	out := make([]string, len(list))
	for i, e := range list {
		c := *e
		c.File = filepath.Base(c.File)
		out[i] = c.Error()
	}
	return out
}

func diffLines(got, want []string) string {
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return ""
	}
	return fmt.Sprintf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
}
