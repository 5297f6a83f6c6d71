package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/rootdir"
	"nucleus/runtime/seccomp"
)

// TestSeccompCacheFollowsHelper: a replaced nucleus-seccomp (a new build
// installed alone) compiles again instead of its predecessor's cached
// filter being reused; with no helper at all the warm cache still serves.
func TestSeccompCacheFollowsHelper(t *testing.T) {
	orig := os.Getenv(seccomp.HelperEnv)
	if orig == "" {
		t.Fatal("TestMain names no nucleus-seccomp")
	}
	helper := filepath.Join(t.TempDir(), "nucleus-seccomp")
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(helper, data, 0o755); err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(prof, []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	sec := Security{Seccomp: prof}
	root := rootdir.Root{Run: t.TempDir(), Data: t.TempDir()}
	t.Setenv(seccomp.HelperEnv, helper)
	if _, err := seccompProgram(root, sec); err != nil {
		t.Fatalf("with nucleus-seccomp: %v", err)
	}
	// The new helper, installed in place, only says it ran.
	if err := os.Remove(helper); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\ncat >/dev/null\necho '{\"Error\":\"the new helper ran\"}'\n"
	if err := os.WriteFile(helper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := seccompProgram(root, sec); err == nil || !strings.Contains(err.Error(), "the new helper ran") {
		t.Errorf("after replacing nucleus-seccomp: %v; want the new helper to compile (error 'the new helper ran'), not the old one's cached filter", err)
	}
	t.Setenv(seccomp.HelperEnv, filepath.Join(t.TempDir(), "missing"))
	if _, err := seccompProgram(root, sec); err != nil {
		t.Errorf("warm cache without any nucleus-seccomp: %v; want the cached filter", err)
	}
}
