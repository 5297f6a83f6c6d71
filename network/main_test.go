package network

import (
	"os"
	"testing"

	"nucleus/internal/keeper"
)

func TestMain(m *testing.M) {
	// This binary is also what rootless helpers re-execute (as the test
	// user, in TestRootlessHub*Helper): the project's keeper, hub
	// operations, and a client inside a stand-in sandbox.
	keeper.MaybeRun()
	RunHubOp()
	runSandboxClient()
	os.Exit(m.Run())
}
