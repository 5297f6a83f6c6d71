// Package leaktest is the leak assertion of tests above runtime and network
// (reconcile, cmd/nucleus, security): after down, a state root must have
// left nothing on the host. runtime and network test their own LeakCheck
// directly (they cannot import this package).
package leaktest

import (
	"errors"
	"strings"
	"testing"

	"nucleus/internal/rootdir"
	"nucleus/network"
	"nucleus/runtime"
)

// Left lists what root's sandboxes (cgroups, state, inits, mounts) and
// networks (links, nftables tables, records, helpers) left on the host.
func Left(root rootdir.Root) ([]string, error) {
	left, rerr := runtime.LeakCheck(root)
	nleft, nerr := network.LeakCheck(root)
	return append(left, nleft...), errors.Join(rerr, nerr)
}

// Check fails the test (without stopping it) for every object root left
// on the host and for a check that could not run.
func Check(t testing.TB, root rootdir.Root) {
	t.Helper()
	left, err := Left(root)
	if err != nil {
		t.Errorf("leak check of %s: %v", root.Run, err)
	}
	if len(left) > 0 {
		t.Errorf("left behind by %s:\n%s", root.Run, strings.Join(left, "\n"))
	}
}
