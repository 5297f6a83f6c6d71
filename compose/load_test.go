package compose

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"nucleus/internal/testutil"
)

func TestLoadInterpolatesAsCompose(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(f, []byte("services:\n  web:\n    image: nginx:${TAG:-1.27}\n    environment:\n      - X=${UNSET}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(context.Background(), LoadOptions{Files: []string{f}, Env: []string{"TAG=1.28"}})
	if err != nil {
		t.Fatal(err)
	}
	web := p.Services["web"]
	if web.Image != "nginx:1.28" {
		t.Errorf("image %q, want nginx:1.28 from the environment", web.Image)
	}
	if v := web.Environment["X"]; v == nil || *v != "" {
		t.Errorf("unset variable gave %v, want empty as Compose does", v)
	}
}

// TestLoadUnknownKey: a key the Compose format does not have is an error at
// its FILE:LINE:COL naming it, as a nucleus.yaml's is; compose-go says
// "validating FILE: services.web.portz false schema". So is a service
// without image (compose-go named no file: 'service "job" has neither an
// image nor a build context specified: invalid compose project').
func TestLoadUnknownKey(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"services:\n  web:\n    image: busybox\n    portz: [\"8080\"]\n", `compose.yaml:4:5: services.web: unknown key "portz": the Compose file format has no such key here`},
		{"services:\n  web:\n    image: busybox\nvolumez: {}\n", `compose.yaml:4:1: unknown key "volumez": the Compose file format has no such key here`},
		{"services:\n  web:\n    image: busybox\n  job:\n    command: [sleep, \"1\"]\n", `compose.yaml:4:3: services.job: neither image nor build is set: a Compose service needs an image (to run a program of the host without one, write a nucleus.yaml service with command:)`},
	} {
		dir := testutil.WriteFiles(t, t.TempDir(), map[string]string{"compose.yaml": tc.yaml})
		t.Chdir(dir)
		_, err := Load(context.Background(), LoadOptions{Files: []string{"compose.yaml"}})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.yaml, err, tc.want)
		}
	}
}
