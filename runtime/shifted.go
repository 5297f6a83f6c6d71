package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"nucleus/internal/flock"
)

// Where a rootfs cannot be idmapped (its file system refuses idmapped
// mounts: overlayfs, NFS, FUSE...), a sandbox with a private user
// namespace runs on a shifted copy instead: the tree copied next to itself
// (<tree>.shift-<base>) with every uid and gid moved into the project's
// range, so that what is owned by N in the tree is owned by N inside, as
// with an idmapped mount. The copy is cached for every sandbox of that
// range (one project of one state root) and removed when the last sandbox
// that recorded it (Record.Shifted) is destroyed. It costs a full copy of
// the tree once per project; what it does not carry: hard links to files
// outside the tree, device nodes (no use in a user namespace), extended
// attributes (file capabilities would need rewriting for the namespace)
// and timestamps. Ids beyond the range become the range's nobody (65534).

// shiftLockFile serialises making, using and removing shifted copies
// within one state root: a copy is removed only when no sandbox record
// names it, and a sandbox names it only once its record is written.
func shiftLockFile(run string) string { return filepath.Join(run, "shifted.lock") }

// lockShifted takes the root's shifted-copy lock; the returned function
// releases it.
func lockShifted(run string) (func(), error) {
	if err := os.MkdirAll(run, 0o711); err != nil {
		return nil, err
	}
	unlock, err := flock.Lock(shiftLockFile(run), unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("lock shifted copies: %w", err)
	}
	return unlock, nil
}

// shiftedCopy returns the shifted copy of the tree at the pinned
// descriptor src (real: its path) for the range at base, making it when
// missing. The caller holds the shifted-copy lock.
func shiftedCopy(src int, real string, base int) (string, error) {
	dst := real + ".shift-" + strconv.Itoa(base)
	if _, err := os.Lstat(dst); err == nil {
		return dst, nil
	}
	tmp := dst + ".tmp-" + strconv.Itoa(os.Getpid())
	_ = os.RemoveAll(tmp) // an earlier attempt of a process with our pid
	if err := copyShifted(fmt.Sprintf("/proc/self/fd/%d/", src), tmp, base); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("make shifted copy %s: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("make shifted copy %s: %w", dst, err)
	}
	return dst, nil
}

// shiftID moves an id of the tree into the range at base.
func shiftID(id uint32, base int) int {
	if id >= IDRangeSize {
		id = 65534
	}
	return base + int(id)
}

// copyShifted copies the tree at src to dst (new), shifting owners by base.
// Symlinks are copied, never followed (src ends in "/": the magic link of
// a pinned descriptor is followed, once).
func copyShifted(src, dst string, base int) error {
	links := map[[2]uint64]string{} // (dev, ino) -> first copy, for hard links
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		mode := os.FileMode(st.Mode & 0o7777)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := os.Mkdir(to, 0o700); err != nil {
				return err
			}
		case unix.S_IFLNK:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(t, to); err != nil {
				return err
			}
			return os.Lchown(to, shiftID(st.Uid, base), shiftID(st.Gid, base))
		case unix.S_IFREG:
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := links[key]; ok {
				return os.Link(first, to)
			}
			if st.Nlink > 1 {
				links[key] = to
			}
			if err := copyFile(p, to); err != nil {
				return err
			}
		case unix.S_IFIFO:
			if err := unix.Mkfifo(to, 0o600); err != nil {
				return err
			}
		default:
			return nil // devices, sockets: nothing to use in a user namespace
		}
		if err := os.Lchown(to, shiftID(st.Uid, base), shiftID(st.Gid, base)); err != nil {
			return err
		}
		// After chown, which clears setuid and setgid.
		return unix.Fchmodat(unix.AT_FDCWD, to, uint32(mode), 0)
	})
}

func copyFile(from, to string) error {
	in, err := os.OpenFile(from, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// shiftedRootfs mounts the shifted copy of the pinned rootfs src (made if
// missing) for this sandbox's range. The shifted-copy lock stays held
// until the sandbox's record names the copy (Create), so that no sandbox
// being destroyed meanwhile removes it.
func (s *Sandbox) shiftedRootfs(src int) (int, error) {
	real, err := fdPath(src)
	if err != nil {
		return -1, err
	}
	unlock, err := lockShifted(s.root.Run)
	if err != nil {
		return -1, err
	}
	s.shiftUnlock = unlock
	path, err := shiftedCopy(src, real, s.hostUID)
	if err != nil {
		return -1, err
	}
	s.shifted = path
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	mfd, _, err := detachedMount(fd, 0, -1)
	return mfd, err
}

// unlockShifted lets others make, use and remove shifted copies again.
func (s *Sandbox) unlockShifted() {
	if s.shiftUnlock != nil {
		s.shiftUnlock()
		s.shiftUnlock = nil
	}
}

// releaseShifted removes the shifted copy path once no other sandbox
// record of the root names it (the sandbox id is going away).
func releaseShifted(run, id, path string) error {
	unlock, err := lockShifted(run)
	if err != nil {
		return err
	}
	defer unlock()
	ents, err := os.ReadDir(filepath.Join(run, "sandboxes"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range ents {
		if e.Name() == id {
			continue
		}
		b, err := os.ReadFile(filepath.Join(run, "sandboxes", e.Name(), "record.json"))
		var r Record
		if err == nil && json.Unmarshal(b, &r) == nil && r.Shifted == path {
			return nil // still in use
		}
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("remove shifted copy: %w", err)
	}
	return nil
}
