package compose

import (
	"context"
	"os"
	"path/filepath"
	"testing"
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
