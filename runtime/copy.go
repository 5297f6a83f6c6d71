package runtime

// nucleus cp: files between the host and a running sandbox, through the
// sandbox init's root (/proc/PID/root). Every path inside the sandbox is
// resolved with openat2 RESOLVE_IN_ROOT, and every step below it relative
// to a directory fd with O_NOFOLLOW, so a symlink the sandbox planted (or
// swaps in meanwhile) resolves inside the sandbox or not at all, never to a
// host path.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// CopyOptions say how files copied into a sandbox are owned.
type CopyOptions struct {
	// HostUID is the host uid (and gid) of the sandbox's root: the base of
	// its id range (0 without a private user namespace).
	HostUID int
	// Archive keeps the source's uid and gid, shifted into the sandbox's
	// range; otherwise what is copied in belongs to the sandbox's root.
	Archive bool
}

func openSandboxRoot(initPID int) (int, error) {
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/root", initPID), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open the sandbox's root: %w", err)
	}
	return fd, nil
}

// openInSandbox opens p (absolute inside the sandbox) beneath rootFD.
func openInSandbox(rootFD int, p string, flags uint64) (int, error) {
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(rootFD, rel, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: p + " (in the sandbox)", Err: err}
	}
	return fd, nil
}

// CopyOut copies src (a file or directory inside the sandbox of init
// initPID) to dst on the host: into dst when it is a directory, else as
// dst. What it creates belongs to the caller; symlinks are copied as
// symlinks.
func CopyOut(initPID int, src, dst string) error {
	rootFD, err := openSandboxRoot(initPID)
	if err != nil {
		return err
	}
	defer unix.Close(rootFD)
	fd, err := openInSandbox(rootFD, src, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFDIR && t != unix.S_IFLNK {
		return fmt.Errorf("%s (in the sandbox): not a file, directory or symlink", src)
	}
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		dst = filepath.Join(dst, path.Base(path.Clean("/"+src)))
	}
	return copyOutFD(fd, dst)
}

// copyOutFD copies what the O_PATH fd names to dst.
func copyOutFD(fd int, dst string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	mode := os.FileMode(st.Mode & 0o7777 &^ (unix.S_ISUID | unix.S_ISGID))
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return err
		}
		return os.Symlink(string(buf[:n]), dst)
	case unix.S_IFREG:
		in, err := reopen(fd, unix.O_RDONLY)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(in), "sandbox file")
		defer f.Close()
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode&0o777)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, f); err != nil {
			out.Close()
			return fmt.Errorf("copy to %s: %w", dst, err)
		}
		return out.Close()
	case unix.S_IFDIR:
		if err := os.Mkdir(dst, mode&0o777|0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		dfd, err := reopen(fd, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		dir := os.NewFile(uintptr(dfd), "sandbox dir")
		defer dir.Close()
		names, err := dir.Readdirnames(-1)
		if err != nil {
			return err
		}
		for _, n := range names {
			cfd, err := unix.Openat(dfd, n, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			err = copyOutFD(cfd, filepath.Join(dst, n))
			unix.Close(cfd)
			if err != nil {
				return err
			}
		}
		return os.Chmod(dst, mode&0o777)
	}
	return nil // devices, fifos, sockets: not copied, as docker cp
}

// reopen opens the object an O_PATH fd names for reading, through
// /proc/self/fd: the same inode, no path resolved again.
func reopen(fd, flags int) (int, error) {
	return unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), flags|unix.O_CLOEXEC, 0)
}

// CopyIn copies src on the host (a file or directory) into the sandbox of
// init initPID at dst: into dst when it is a directory there, else as dst
// (whose parent must exist). Existing files are replaced without following
// a symlink in their place.
//
// The copy runs with the thread's filesystem uid and gid set to the
// sandbox's root: what it creates is born the sandbox root's, a file
// system mounted inside the sandbox's user namespace (its /tmp) accepts it
// (it refuses inodes of an owner it cannot map, as host root is), and
// permissions are checked as for the sandbox's root.
func CopyIn(initPID int, src, dst string, o CopyOptions) error {
	rootFD, err := openSandboxRoot(initPID)
	if err != nil {
		return err
	}
	defer unix.Close(rootFD)
	goruntime.LockOSThread()
	if err := setFSIDs(o.HostUID); err != nil {
		goruntime.UnlockOSThread()
		return err
	}
	defer func() {
		if setFSIDs(0) == nil {
			goruntime.UnlockOSThread() // else the thread ends with this goroutine
		}
	}()
	parent, name := dst, path.Base(path.Clean("/"+src))
	if fd, err := openInSandbox(rootFD, dst, unix.O_PATH|unix.O_DIRECTORY); err == nil {
		unix.Close(fd)
	} else {
		parent, name = path.Dir(path.Clean("/"+dst)), path.Base(path.Clean("/"+dst))
	}
	pfd, err := openInSandbox(rootFD, parent, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	var fi os.FileInfo
	if err := asHostRoot(o.HostUID, func() (err error) { fi, err = os.Lstat(src); return err }); err != nil {
		return err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%s: not a file, directory or symlink", src)
	}
	return copyIn(src, pfd, name, o)
}

// setFSIDs sets the calling thread's filesystem uid and gid (setfsuid:
// a change away from 0 drops the file capabilities, one back restores them).
func setFSIDs(id int) error {
	unix.Setfsgid(id)
	unix.Setfsuid(id)
	if got, _ := unix.SetfsuidRetUid(-1); got != id {
		return fmt.Errorf("set filesystem uid %d: still %d", id, got)
	}
	return nil
}

// asHostRoot runs do with the file capabilities of fs uid 0 (reading the
// host side; the chown of -a), then goes back to the sandbox root's ids.
func asHostRoot(hostUID int, do func() error) error {
	if hostUID == 0 {
		return do()
	}
	if err := setFSIDs(0); err != nil {
		return err
	}
	err := do()
	if serr := setFSIDs(hostUID); serr != nil {
		return serr
	}
	return err
}

func copyIn(src string, dirFD int, name string, o CopyOptions) error {
	// The host side is read with host root's file capabilities.
	host := func(fn func() error) error { return asHostRoot(o.HostUID, fn) }
	var fi os.FileInfo
	if err := host(func() (err error) { fi, err = os.Lstat(src); return err }); err != nil {
		return err
	}
	// Born the sandbox root's (fs ids); -a gives the source's ids.
	chown := func(fn func(uid, gid int) error) error { return nil }
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && o.Archive && (st.Uid != 0 || st.Gid != 0) && st.Uid < IDRangeSize && st.Gid < IDRangeSize {
		uid, gid := o.HostUID+int(st.Uid), o.HostUID+int(st.Gid)
		chown = func(fn func(uid, gid int) error) error {
			return host(func() error { return fn(uid, gid) })
		}
	}
	perm := uint32(fi.Mode().Perm())
	inside := func(err error) error { return insideErr(name, err) }
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		var target string
		if err := host(func() (err error) { target, err = os.Readlink(src); return err }); err != nil {
			return err
		}
		_ = unix.Unlinkat(dirFD, name, 0)
		if err := unix.Symlinkat(target, dirFD, name); err != nil {
			return inside(err)
		}
		return inside(chown(func(uid, gid int) error { return unix.Fchownat(dirFD, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW) }))
	case fi.Mode().IsRegular():
		var in *os.File
		if err := host(func() (err error) { in, err = os.Open(src); return err }); err != nil {
			return err
		}
		defer in.Close()
		fd, err := unix.Openat(dirFD, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		if err != nil {
			return inside(err)
		}
		out := os.NewFile(uintptr(fd), name)
		defer out.Close()
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return inside(errors.New("not a regular file"))
		}
		if _, err := io.Copy(out, in); err != nil {
			return inside(err)
		}
		if err := unix.Fchmod(fd, perm); err != nil { // before chown: the owner may chmod
			return inside(err)
		}
		return inside(chown(func(uid, gid int) error { return unix.Fchown(fd, uid, gid) }))
	case fi.IsDir():
		if err := unix.Mkdirat(dirFD, name, 0o700); err != nil && err != unix.EEXIST {
			return inside(err)
		}
		cfd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return inside(err)
		}
		defer unix.Close(cfd)
		var ents []os.DirEntry
		if err := host(func() (err error) { ents, err = os.ReadDir(src); return err }); err != nil {
			return err
		}
		for _, e := range ents {
			if err := copyIn(filepath.Join(src, e.Name()), cfd, e.Name(), o); err != nil {
				return err
			}
		}
		if err := unix.Fchmod(cfd, perm); err != nil { // before chown: the owner may chmod
			return inside(err)
		}
		return inside(chown(func(uid, gid int) error { return unix.Fchown(cfd, uid, gid) }))
	}
	return nil // devices, fifos, sockets: not copied
}

func insideErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s (in the sandbox): %w", name, err)
}
