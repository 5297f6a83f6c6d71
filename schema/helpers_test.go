package schema_test

import (
	"testing"

	"nucleus/internal/testutil"
	"nucleus/spec"
)

// fixtures are the files the test documents refer to.
var fixtures = map[string]string{
	".env.web":        "GREETING=hello\n",
	".env.a":          "A=1\n",
	".env.b":          "B=2\n",
	"site/index.html": "hi\n",
	"rootfs/.keep":    "",
	"db_password.txt": "pw\n",
	"db_pw.txt":       "pw\n",
	"nginx.conf":      "events {}\n",
	"profile.json":    `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}`,
}

// testEnviron is the whole environment the loader sees in these tests.
var testEnviron = map[string]string{"RO": "false", "PIDS": "64", "PORT": "8080", "GRACE": "5s", "API_TOKEN": "t"}

// loadIn writes text as nucleus.yaml into a fresh directory holding the
// fixtures, changes into it (so errors name "nucleus.yaml") and loads it
// with the real loader.
func loadIn(t *testing.T, text string) (*spec.Project, error) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"nucleus.yaml": text}
	for k, v := range fixtures {
		files[k] = v
	}
	testutil.WriteFiles(t, dir, files)
	t.Chdir(dir)
	return spec.Load(spec.LoadOptions{Files: []string{"nucleus.yaml"}, Environ: testEnviron})
}
