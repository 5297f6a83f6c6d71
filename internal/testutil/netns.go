package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NewNetns creates a network namespace pinned on a file in the test's
// temporary directory, with loopback up, and returns the pin's path. Cleanup
// unpins it and checks that the pin is gone (the namespace then goes with its
// last user).
func NewNetns(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		self := "/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/ns/net"
		if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
			errc <- err
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("create netns: %v", err)
	}
	// A plain file is left; only a still-mounted pin would be a leak.
	unmountAtCleanup(t, path, unix.NSFS_MAGIC, "netns pin")
	return path
}

// unmountAtCleanup unmounts path (a mount of file system type magic, what
// in messages) when the test ends and fails the test if it is still there.
func unmountAtCleanup(t testing.TB, path string, magic int64, what string) {
	t.Cleanup(func() {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s %s: %v", what, path, err)
		}
		var st unix.Statfs_t
		if unix.Statfs(path, &st) == nil && int64(st.Type) == magic {
			t.Errorf("%s %s still mounted", what, path)
		}
	})
}
