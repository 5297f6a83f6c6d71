package daemon

import (
	"path/filepath"
	"strings"
	"testing"
)

// CheckSource judges the real path the runtime pinned, not the path in the
// file: inside the project or under an allowed prefix is fine; elsewhere
// the refusal names FILE:LINE:COL, the volume (or rootfs) and the path.
func TestPolicyCheckSource(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	p := loadPolicyProject(t, dir, "services:\n  web:\n    command: [/bin/true]\n    volumes: [./a:/a, ./b:/b]\n")
	file := filepath.Join(dir, "nucleus.yaml")
	var pol Policy
	if err := pol.CheckSource(p, "web", "/a", filepath.Join(dir, "a")); err != nil {
		t.Errorf("source inside the project: %v", err)
	}
	err := pol.CheckSource(p, "web", "/b", outside)
	want := file + ":4:23: services.web.volumes: the bind source of volume /b is " + outside + " at start"
	if err == nil || !strings.HasPrefix(err.Error(), PolicyDeniedPrefix) || !strings.Contains(err.Error(), want) {
		t.Errorf("source outside: err %v, want %q", err, want)
	}
	if err := pol.CheckSource(p, "web", "", outside); err == nil || !strings.Contains(err.Error(), "services.web.rootfs: rootfs is "+outside) {
		t.Errorf("rootfs outside: err %v", err)
	}
	pol.AllowHostPaths = []string{filepath.Dir(outside)}
	if err := pol.CheckSource(p, "web", "/b", outside); err != nil {
		t.Errorf("source under an allowed prefix: %v", err)
	}
}
