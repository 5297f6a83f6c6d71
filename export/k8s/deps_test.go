package k8s_test

import (
	"testing"

	"nucleus/internal/testutil"
)

// TestBinaryLinksNoKubernetesModule: k8s.io and sigs.k8s.io modules are
// for the tests only; the nucleus binary writes its own structs (issue
// 15's size and start-up budget).
func TestBinaryLinksNoKubernetesModule(t *testing.T) {
	testutil.AssertNotLinked(t, "nucleus/cmd/nucleus", []string{"k8s.io", "sigs.k8s.io"}, "keep Kubernetes modules in tests (export/k8s has its own types)")
}
