package cgroups

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"nucleus/internal/flock"
	"nucleus/internal/rootdir"
)

// lockParent serialises creating a sandbox's cgroup with removing the
// per-root parent directory (which Delete does when a root's last sandbox
// goes). Without it, a Delete in another goroutine or process can rmdir the
// parent between the mkdirs of a concurrent New, which then fails with
// ENOENT. The lock is a flock on a file in the root's runtime directory, so
// it holds across processes of the same root; the file goes with the root.
func lockParent(root rootdir.Root) (unlock func(), err error) {
	if root.Run == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(root.Run, 0o700); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", root.Run, err)
	}
	p := filepath.Join(root.Run, "cgroups.lock")
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err == unix.EROFS {
		// A root remounted read-only must not keep its cgroups: flock needs
		// no write access, and without the file no one can be creating.
		if fd, err = unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == unix.ENOENT {
			return func() {}, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	if unlock, err = flock.Fd(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return unlock, nil
}
