package resolve_test

import (
	"os"
	"testing"

	"nucleus/internal/testutil"
)

// TestMain builds nucleus-image: pulls and unpacks run in it.
func TestMain(m *testing.M) { os.Exit(testutil.RunWithImageHelper(m)) }
