package compose

import (
	"context"
	"path/filepath"
	"testing"
)

// TestKeysFilesAreCompose: the Compose files under testdata/keys (one per
// key or group of keys of issue 13, each citing what Compose's
// documentation says happens) are valid Compose, so a test of nucleus's
// mapping starts from what docker compose would accept.
func TestKeysFilesAreCompose(t *testing.T) {
	files, err := filepath.Glob("testdata/keys/*.compose.yaml")
	if err != nil || len(files) < 15 {
		t.Fatalf("testdata/keys holds %d compose files (%v), want one per key group of issue 13", len(files), err)
	}
	for _, f := range files {
		p, err := Load(context.Background(), LoadOptions{Files: []string{f},
			Env: []string{"SECRET_TOKEN=t0ken", "APP_MODE=prod"}, Profiles: []string{"*"}})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(p.Services) == 0 {
			t.Errorf("%s: no service", f)
		}
	}
}
