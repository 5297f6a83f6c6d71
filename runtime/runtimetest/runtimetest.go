// Package runtimetest holds test helpers for packages whose tests start
// sandboxes through the runtime.
package runtimetest

import (
	"nucleus/internal/keeper"
	"os"
	"strings"
	"testing"

	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/runtime"
)

// Main is TestMain for such packages: without an installed nucleus-init the
// runtime re-executes the test binary as the sandbox's init, so the binary
// must turn into the init before it runs tests; and the sandboxes' seccomp
// filters are compiled by nucleus-seccomp, built for the run.
func Main(m *testing.M) {
	keeper.MaybeRun()
	if runtime.IsInit() {
		runtime.InitMain()
	}
	os.Exit(testutil.RunWithBinaries(m, "nucleus-seccomp-", testutil.UseSeccompHelper))
}

// AssertNoSandboxLeft fails t when anything of a sandbox of root is left
// (state, cgroup, init process or mount: runtime.LeakCheck) or any veth of
// root: what a sandbox is made of. The networks themselves may stay.
func AssertNoSandboxLeft(t testing.TB, root rootdir.Root) {
	t.Helper()
	if leaks, err := runtime.LeakCheck(root); err != nil || len(leaks) != 0 {
		t.Errorf("sandbox left behind: %v %v", leaks, err)
	}
	links, err := network.LeakCheck(root)
	if err != nil {
		t.Errorf("network leak check: %v", err)
	}
	for _, l := range links {
		if strings.Contains(l, "(veth,") {
			t.Errorf("veth left behind: %s", l)
		}
	}
}
