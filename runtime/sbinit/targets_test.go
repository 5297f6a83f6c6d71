package sbinit

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

// TestClonePinnedRefusesSwappedPath: a source given by path (rootless) is
// cloned only if it is still the file the caller pinned and judged.
func TestClonePinnedRefusesSwappedPath(t *testing.T) {
	testutil.RequireRoot(t) // open_tree clones in the host's mount namespace
	judged, other := t.TempDir(), t.TempDir()
	pin, err := unix.Open(judged, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pin)
	fd, err := clonePinned(Mount{Target: "/v", Path: judged, ReadOnly: true}, pin)
	if err != nil {
		t.Fatalf("the pinned path itself: %v", err)
	}
	unix.Close(fd)
	if fd, err := clonePinned(Mount{Target: "/v", Path: other}, pin); err == nil || !strings.Contains(err.Error(), "changed meanwhile") {
		if err == nil {
			unix.Close(fd)
		}
		t.Fatalf("another path than the pinned one: err %v, want a refusal", err)
	}
}
