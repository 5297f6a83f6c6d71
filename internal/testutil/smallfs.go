package testutil

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// SmallFS is a tiny tmpfs a test mounts to run out of space (or of
// writability) on purpose.
type SmallFS struct {
	Dir    string
	filler string
}

// MountSmallFS mounts a tmpfs of size bytes at dir (made if missing).
// Cleanup unmounts it and checks that nothing is mounted there any more, so
// call it before registering cleanups that must see its content.
func MountSmallFS(t testing.TB, dir string, size int) *SmallFS {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV,
		"mode=0755,size="+strconv.Itoa(size)); err != nil {
		t.Fatalf("mount small tmpfs on %s: %v", dir, err)
	}
	unmountAtCleanup(t, dir, unix.TMPFS_MAGIC, "small tmpfs")
	return &SmallFS{Dir: dir, filler: filepath.Join(dir, ".filler")}
}

// Fill writes a filler file until the file system has no block left.
func (f *SmallFS) Fill(t testing.TB) {
	t.Helper()
	w, err := os.OpenFile(f.filler, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("fill %s: %v", f.Dir, err)
	}
	defer w.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := w.Write(buf); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("fill %s: %v", f.Dir, err)
			}
			return
		}
	}
}

// Free removes the filler.
func (f *SmallFS) Free(t testing.TB) {
	t.Helper()
	if err := os.Remove(f.filler); err != nil && !os.IsNotExist(err) {
		t.Fatalf("free %s: %v", f.Dir, err)
	}
}

// SetReadOnly remounts the file system read-only (ro true) or writable.
func (f *SmallFS) SetReadOnly(t testing.TB, ro bool) {
	t.Helper()
	flags := uintptr(unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV)
	if ro {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", f.Dir, "", flags, ""); err != nil {
		t.Fatalf("remount %s (read-only %v): %v", f.Dir, ro, err)
	}
}
