package k8s_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoKubernetesModule: k8s.io and sigs.k8s.io modules are
// for the tests only; the nucleus binary writes its own structs (issue
// 15's size and start-up budget).
func TestBinaryLinksNoKubernetesModule(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "nucleus/cmd/nucleus").Output()
	if err != nil {
		t.Fatalf("go list -deps nucleus/cmd/nucleus: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "k8s.io/") || strings.HasPrefix(dep, "sigs.k8s.io/") {
			t.Errorf("nucleus links %s; keep Kubernetes modules in tests (export/k8s has its own types)", dep)
		}
	}
}
