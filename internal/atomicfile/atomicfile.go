// Package atomicfile writes a file so that readers see either the old or the
// new content, never a truncated one, even if the writer crashes midway.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with b: a temporary file in the same directory is
// written, fsynced, given perm and renamed over path. On error nothing is left
// behind but the old file (if any).
func Write(path string, b []byte, perm os.FileMode) error { return write(path, b, perm, true) }

// WriteVolatile is Write without the fsync, for runtime state that a reboot
// makes meaningless anyway (records under the runtime root, which readers
// check against the boot and the process start time). It still never shows
// a truncated file after a crash of the writer; it saves the fsync (about
// 1 ms on a disk-backed /run) on every sandbox start.
func WriteVolatile(path string, b []byte, perm os.FileMode) error {
	return write(path, b, perm, false)
}

func write(path string, b []byte, perm os.FileMode, sync bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fail(path, err)
	}
	_, werr := tmp.Write(b)
	if werr == nil {
		werr = tmp.Chmod(perm)
	}
	if werr == nil && sync {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fail(path, werr)
	}
	if sync {
		// The rename itself is durable only once the directory is synced;
		// a failure here loses nothing that is already visible.
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return nil
}

// fail names the file the caller asked for and the bare reason ("no space
// left on device"), not the temporary file that met it.
func fail(path string, err error) error {
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("write %s: %w", path, err)
}
