package pullapi_test

import (
	"testing"

	"nucleus/internal/testutil"
)

// TestBinaryLinksNoImageStack: go-containerregistry, go-digest,
// image-spec and klauspost/compress are for nucleus-image; their package
// init would cost every nucleus start ~1 ms (issue 15,
// bench/results/issue15-runtime.md).
func TestBinaryLinksNoImageStack(t *testing.T) {
	testutil.AssertNotLinked(t, "nucleus/cmd/nucleus", []string{
		"github.com/google/go-containerregistry", "github.com/opencontainers/go-digest",
		"github.com/opencontainers/image-spec", "github.com/klauspost/compress",
		"nucleus/image/pull", "nucleus/image/layerzip",
	}, "keep it in nucleus-image (image/pullapi runs it)")
}
