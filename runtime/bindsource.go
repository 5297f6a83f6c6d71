package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// openSource opens the host path p (absolute) as an O_PATH descriptor
// without trusting what a sandbox could have written on the way: p is
// walked one component at a time from / with O_NOFOLLOW, and a symlink is
// followed only when a real host user owns it. A workload writing into a
// bind volume (which is not idmapped, see prepareFDs) creates files owned
// by its project's id range, so a symlink it swaps into the source of
// another volume (./data/sub -> /root) is refused at the next start instead
// of mounting the host's /root (the class of Kubernetes' subPath escapes,
// CVE-2017-1002101). The caller mounts exactly the returned descriptor.
func openSource(p string) (int, error) {
	if !filepath.IsAbs(p) {
		return -1, fmt.Errorf("%s: not an absolute path", p)
	}
	const flags = unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open("/", flags, 0)
	if err != nil {
		return -1, fmt.Errorf("open /: %w", err)
	}
	rest, walked, links := strings.Split(p, "/"), "/", 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if c == "" || c == "." {
			continue
		}
		here := filepath.Join(walked, c)
		next, err := unix.Openat(fd, c, flags, 0)
		if err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "open", Path: here, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(fd)
			unix.Close(next)
			return -1, &os.PathError{Op: "stat", Path: here, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			unix.Close(fd)
			fd, walked = next, here
			continue
		}
		target, err := readlinkFD(next)
		unix.Close(next)
		if err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "readlink", Path: here, Err: err}
		}
		if why := sandboxID(st.Uid); why != "" {
			unix.Close(fd)
			return -1, fmt.Errorf("%s is a symlink (to %s) owned by uid %d (%s), which a sandbox may have planted; refusing to follow it (replace it by the directory itself)", here, target, st.Uid, why)
		}
		// A host user's symlink can still be moved (rename keeps its
		// owner) by a sandbox that writes the directory it sits in, and a
		// relative one then points somewhere else: only follow symlinks in
		// directories no sandbox owns.
		var dir unix.Stat_t
		if err := unix.Fstat(fd, &dir); err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "stat", Path: walked, Err: err}
		}
		if why := sandboxID(dir.Uid); why != "" {
			unix.Close(fd)
			return -1, fmt.Errorf("%s is a symlink (to %s) in a directory owned by uid %d (%s), where a sandbox may have moved it; refusing to follow it (replace it by the directory itself)", here, target, dir.Uid, why)
		}
		if links++; links > 40 {
			unix.Close(fd)
			return -1, &os.PathError{Op: "open", Path: p, Err: unix.ELOOP}
		}
		if filepath.IsAbs(target) {
			unix.Close(fd)
			if fd, err = unix.Open("/", flags, 0); err != nil {
				return -1, fmt.Errorf("open /: %w", err)
			}
			walked = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return fd, nil
}

func readlinkFD(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// fdPath is the path the kernel reports for fd: what is really mounted,
// for the caller's policy (Config.CheckSource).
func fdPath(fd int) (string, error) {
	return os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
}

// sandboxID says why uid is not a real host user ("" when it is one):
// nucleus carves its projects' ranges from 2^30 upwards (and nothing real
// lives that high), and /etc/subuid hands out the ranges of other tools'
// user namespaces (rootless Podman, LXD, ...). Their symlinks are not
// followed. userns: host sandboxes write as host root and are not
// recognised: that mode is a host-privilege opt-in (docs/sandbox.md).
func sandboxID(uid uint32) string {
	if uid >= idSpaceStart {
		return "a sandbox id range"
	}
	why := ""
	forLines("/etc/subuid", ":", func(f []string) {
		if len(f) != 3 {
			return
		}
		s, e1 := strconv.ParseUint(f[1], 10, 32)
		n, e2 := strconv.ParseUint(f[2], 10, 32)
		if e1 == nil && e2 == nil && uint64(uid) >= s && uint64(uid) < s+n {
			why = "a subordinate id range of /etc/subuid"
		}
	})
	return why
}

// chownTree hands the tree at dirFD (a pinned volume source, :U) to the
// workload's user: every entry not yet owned by uid:gid (host ids) gets
// that owner, as Podman's U does, so a non-root service can chmod its
// volume (initdb) and use what an earlier user left there. Nothing is
// followed: every entry is opened O_PATH|O_NOFOLLOW and changed through that
// descriptor (symlinks themselves are changed, not their targets), and the
// walk stays on the source's mount (another mount below it, even of the
// same file system, is left as it is). Changing the owner clears setuid
// and setgid bits.
func chownTree(dirFD int, uid, gid uint32, src string) error {
	const mask = unix.STATX_TYPE | unix.STATX_UID | unix.STATX_GID | unix.STATX_MNT_ID
	var root unix.Statx_t
	if err := unix.Statx(dirFD, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, mask, &root); err != nil {
		return &os.PathError{Op: "stat", Path: src, Err: err}
	}
	if root.Mask&unix.STATX_MNT_ID == 0 {
		return fmt.Errorf("%s: the kernel does not report mount ids (statx STATX_MNT_ID, Linux 5.8)", src)
	}
	var walk func(fd int, st *unix.Statx_t, path string) error
	walk = func(fd int, st *unix.Statx_t, path string) error {
		if st.Uid != uid || st.Gid != gid {
			if err := unix.Fchownat(fd, "", int(uid), int(gid), unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return &os.PathError{Op: "chown", Path: path, Err: err}
			}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil
		}
		// O_PATH descriptors cannot list a directory; reopen it through
		// /proc/self/fd, which names the very inode (no path lookup).
		d, err := os.Open("/proc/self/fd/" + strconv.Itoa(fd))
		if err != nil {
			return err
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return &os.PathError{Op: "list", Path: path, Err: err}
		}
		for _, name := range names {
			cfd, err := unix.Openat(fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if errors.Is(err, unix.ENOENT) {
				continue // removed meanwhile
			}
			if err != nil {
				return &os.PathError{Op: "open", Path: filepath.Join(path, name), Err: err}
			}
			var cst unix.Statx_t
			err = unix.Statx(cfd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, mask, &cst)
			if err == nil && cst.Mnt_id == root.Mnt_id {
				err = walk(cfd, &cst, filepath.Join(path, name))
			}
			unix.Close(cfd)
			if err != nil {
				return err
			}
		}
		return nil
	}
	return walk(dirFD, &root, src)
}
