package compose

import (
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"

	"nucleus/compose/composeapi"
)

// composeapi keeps its own copy of Compose's file names so that nucleus
// does not link compose-go: it must stay Compose's list, in Compose's order.
func TestComposeFileNamesAreCompose(t *testing.T) {
	if !slices.Equal(composeapi.DefaultFileNames, cli.DefaultFileNames) {
		t.Errorf("composeapi.DefaultFileNames = %v, compose-go has %v", composeapi.DefaultFileNames, cli.DefaultFileNames)
	}
	if !slices.Equal(composeapi.DefaultOverrideFileNames, cli.DefaultOverrideFileNames) {
		t.Errorf("composeapi.DefaultOverrideFileNames = %v, compose-go has %v", composeapi.DefaultOverrideFileNames, cli.DefaultOverrideFileNames)
	}
}
