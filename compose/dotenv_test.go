package compose

import (
	"context"
	"path/filepath"
	"testing"

	"nucleus/internal/testutil"
)

// TestLoadReadsDotEnv: Compose reads .env in the project directory for
// interpolation, and the environment wins over it ("Set environment
// variables", docs.docker.com/compose/how-tos/environment-variables/).
func TestLoadReadsDotEnv(t *testing.T) {
	dir := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		".env":         "TAG=from-dotenv\nPORT=8080\n",
		"compose.yaml": "services:\n  web:\n    image: nginx:${TAG}\n    environment: {P: \"${PORT}\"}\n",
	})
	p, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")}, Env: []string{"PORT=9090"}})
	if err != nil {
		t.Fatal(err)
	}
	if img := p.Services["web"].Image; img != "nginx:from-dotenv" {
		t.Errorf("image %q, want nginx:from-dotenv from .env", img)
	}
	if v := p.Services["web"].Environment["P"]; v == nil || *v != "9090" {
		t.Errorf("P = %v, want 9090: the environment wins over .env", v)
	}
}
