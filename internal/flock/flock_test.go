package flock

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestExclusiveBlocksUntilUnlock(t *testing.T) {
	before := openFds(t)
	p := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(p, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("lock file %s: want mode 0600, got %v (%v)", p, st, err)
	}
	// A second open of the same file is a second holder, even in one process.
	if _, err := Lock(p, unix.LOCK_SH|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) || !strings.Contains(err.Error(), p) {
		t.Fatalf("shared try-lock while held exclusively: want EWOULDBLOCK naming %s, got %v", p, err)
	}
	got := make(chan func())
	go func() {
		u, err := Lock(p, unix.LOCK_EX)
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("second exclusive lock taken while the first is held")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	unlock() // again: must not close a descriptor that is someone else's now
	select {
	case u := <-got:
		u()
	case <-time.After(5 * time.Second):
		t.Fatal("second exclusive lock not taken within 5s of unlock")
	}
	if n := openFds(t); n != before {
		t.Fatalf("open descriptors: %d before, %d after unlocking", before, n)
	}
}

func TestSharedLocksCoexistAndExcludeExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gc.lock")
	u1, err := Lock(p, unix.LOCK_SH)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := Lock(p, unix.LOCK_SH|unix.LOCK_NB)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if _, err := Lock(p, unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("exclusive try-lock under two shared: want EWOULDBLOCK, got %v", err)
	}
	u1()
	if _, err := Lock(p, unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("exclusive try-lock under one shared: want EWOULDBLOCK, got %v", err)
	}
	u2()
	u3, err := Lock(p, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		t.Fatalf("exclusive try-lock once shared ones are gone: %v", err)
	}
	u3()
}

func TestOpenErrorNamesPathAndLeaksNothing(t *testing.T) {
	before := openFds(t)
	p := filepath.Join(t.TempDir(), "missing", "x.lock")
	if _, err := Lock(p, unix.LOCK_EX); !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), p) {
		t.Fatalf("lock in a missing directory: want ENOENT naming %s, got %v", p, err)
	}
	// A bad how fails flock, after the open: the file must be closed.
	if _, err := Lock(filepath.Join(t.TempDir(), "y.lock"), 0); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("flock with how 0: want EINVAL, got %v", err)
	}
	if n := openFds(t); n != before {
		t.Fatalf("open descriptors: %d before, %d after failed locks", before, n)
	}
}
