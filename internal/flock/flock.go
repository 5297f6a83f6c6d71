// Package flock takes advisory whole-file locks (flock(2)) on lock files,
// the way nucleus processes of one root or one host serialise shared state.
package flock

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// Lock opens path (created with mode 0600 when missing; its directory must
// exist) and flocks it with how: unix.LOCK_EX or unix.LOCK_SH, or'ed with
// unix.LOCK_NB to fail with EWOULDBLOCK instead of waiting. Errors name the
// path; callers add what the lock is for. unlock releases the lock and
// closes the file; calling it again does nothing.
func Lock(path string, how int) (unlock func(), err error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	unlock, err = Fd(fd, how)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return unlock, nil
}

// Fd flocks the open descriptor fd with how (see Lock), waiting again when a
// signal interrupts the wait. On success fd belongs to unlock, which
// releases the lock and closes it (once); on error fd stays the caller's.
func Fd(fd, how int) (unlock func(), err error) {
	for {
		err = unix.Flock(fd, how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// Explicitly, not only by close: a child forked meanwhile may
			// still hold a copy of fd until it execs.
			unix.Flock(fd, unix.LOCK_UN)
			unix.Close(fd)
		})
	}, nil
}
