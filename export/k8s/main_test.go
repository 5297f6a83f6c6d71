package k8s_test

import (
	"os"
	"testing"

	"nucleus/internal/testutil"
)

// TestMain: testdata/compose is a compose project, which the loader
// converts through nucleus-compose.
func TestMain(m *testing.M) { os.Exit(testutil.RunWithComposeHelper(m)) }
