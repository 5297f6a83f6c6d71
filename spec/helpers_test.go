package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// realTempDir is t.TempDir with symlinks resolved: errors name real paths.
func realTempDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// makeLinks creates symlinks (name below dir -> target, DIR in the target
// standing for dir).
func makeLinks(t *testing.T, dir string, links map[string]string) {
	t.Helper()
	for link, target := range links {
		if err := os.Symlink(strings.ReplaceAll(target, "DIR", dir), filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
}

// checkOneLoadError checks Load's error: none when want is nil, otherwise
// exactly one error line saying each of want (DIR standing for dir, OVER
// for dir/over).
func checkOneLoadError(t *testing.T, err error, want []string, dir string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("loaded; want an error saying %q", want)
	}
	if lines := strings.Split(strings.TrimSpace(err.Error()), "\n"); len(lines) != 1 {
		t.Errorf("want one error, got %d:\n%v", len(lines), err)
	}
	for _, w := range want {
		w = strings.ReplaceAll(w, "DIR", dir)
		w = strings.ReplaceAll(w, "OVER", filepath.Join(dir, "over"))
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q:\n%s", w, err)
		}
	}
}

// bindAt shows directory src at alias too (a bind mount made on the host,
// root only), creating both, and undoes it when the test ends.
func bindAt(t *testing.T, src, alias string) {
	t.Helper()
	testutil.RequireRoot(t)
	for _, d := range []string{src, alias} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount(src, alias, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount %s at %s: %v", src, alias, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(alias, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", alias, err)
		}
	})
}
