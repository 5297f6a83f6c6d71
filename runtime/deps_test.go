package runtime

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRuntimeDoesNotDependOnSpec (issue 11): the runtime owns its config
// types and reconcile/host converts the file's service into them once, so
// a change of the file format (spec) does not ripple into kernel code.
func TestRuntimeDoesNotDependOnSpec(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "nucleus/runtime").Output()
	if err != nil {
		t.Fatalf("go list -deps nucleus/runtime: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "nucleus/spec" {
			t.Fatalf("nucleus/runtime depends on nucleus/spec; convert in reconcile/host (SandboxConfig) instead")
		}
	}
}
