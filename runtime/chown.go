package runtime

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"nucleus/runtime/sbinit"
)

// workloadHostIDs is the host uid and gid of the workload's user, for
// :U volumes: resolved as the init will resolve it, against the sandbox's
// /etc (the pinned rootfs rootFD, or the host's /etc the default root binds,
// unless Files replace /etc/passwd or /etc/group), then mapped through the
// project's id range (identity under userns: host).
func (s *Sandbox) workloadHostIDs(user string, rootFD int) (uint32, uint32, error) {
	uid, gid, err := sbinit.LookupIDs(user, s.openEtc(rootFD))
	if err != nil {
		return 0, 0, fmt.Errorf("chown (:U) to user %q: %w", user, err)
	}
	if s.hostUID == 0 {
		return uid, gid, nil
	}
	if s.sub != nil {
		// Rootless: only the user's own ids can be given from here.
		if uid != 0 || gid != 0 {
			return 0, 0, fmt.Errorf("chown (:U) to user %q (%d:%d): a rootless sandbox can hand a volume only to its root (the user)", user, uid, gid)
		}
		return uint32(s.sub.UID), uint32(s.sub.GID), nil
	}
	if uid >= IDRangeSize || gid >= IDRangeSize {
		return 0, 0, fmt.Errorf("chown (:U) to user %q: %d:%d is outside the sandbox's ids 0-%d", user, uid, gid, IDRangeSize-1)
	}
	base := uint32(s.hostUID)
	return base + uid, base + gid, nil
}

// openEtc opens /etc files as the workload will see them: generated files
// first, then the last volume mounted at or above the file, then the
// rootfs's or the host's. Rootfs and volume paths are resolved inside their
// pinned directory (RESOLVE_IN_ROOT), so their symlinks cannot reach the
// rest of the host.
func (s *Sandbox) openEtc(rootFD int) sbinit.OpenEtc {
	return func(name string) (io.ReadCloser, error) {
		if b, ok := s.cfg.Files[name]; ok {
			return io.NopCloser(bytes.NewReader(b)), nil
		}
		for i := len(s.cfg.Mounts) - 1; i >= 0; i-- {
			m := s.cfg.Mounts[i]
			rel, ok := strings.CutPrefix(name, m.Target)
			if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
				continue
			}
			if m.Type == MountTmpfs {
				return nil, &os.PathError{Op: "open", Path: name, Err: unix.ENOENT}
			}
			fd, err := openSource(m.Source)
			if err != nil {
				return nil, err
			}
			defer unix.Close(fd)
			return openIn(fd, rel, name)
		}
		if rootFD < 0 {
			return os.Open(name)
		}
		return openIn(rootFD, name, name)
	}
}

// openIn opens the regular file rel below the pinned directory dirFD for
// reading, resolving it as if dirFD were / (rel "": dirFD is the file).
func openIn(dirFD int, rel, name string) (io.ReadCloser, error) {
	var fd int
	var err error
	if rel = strings.TrimPrefix(rel, "/"); rel == "" {
		// The pinned file itself (a bind of one file): reopen the very
		// inode through /proc/self/fd.
		fd, err = unix.Open("/proc/self/fd/"+strconv.Itoa(dirFD), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	} else {
		fd, err = unix.Openat2(dirFD, rel, &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("%s in the sandbox is not a regular file", name)
	}
	return os.NewFile(uintptr(fd), name), nil
}
