package runtime

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"nucleus/runtime/sbinit"
	"nucleus/spec"
)

// workloadHostIDs is the host uid and gid of svc's workload (user:), for
// :U volumes: resolved as the init will resolve it, against the sandbox's
// /etc (the pinned rootfs rootFD, or the host's /etc the default root binds,
// unless Files replace /etc/passwd or /etc/group), then mapped through the
// project's id range (identity under userns: host).
func (s *Sandbox) workloadHostIDs(svc *spec.Service, rootFD int) (uint32, uint32, error) {
	uid, gid, err := sbinit.LookupIDs(svc.User, s.openEtc(rootFD))
	if err != nil {
		return 0, 0, fmt.Errorf("chown (:U) to user %q: %w", svc.User, err)
	}
	if s.hostUID == 0 {
		return uid, gid, nil
	}
	if uid >= IDRangeSize || gid >= IDRangeSize {
		return 0, 0, fmt.Errorf("chown (:U) to user %q: %d:%d is outside the sandbox's ids 0-%d", svc.User, uid, gid, IDRangeSize-1)
	}
	base := uint32(s.hostUID)
	return base + uid, base + gid, nil
}

// openEtc opens /etc files as the workload will see them: generated files
// first, then the rootfs's (resolved inside rootFD, so its symlinks cannot
// reach the host) or the host's.
func (s *Sandbox) openEtc(rootFD int) sbinit.OpenEtc {
	return func(name string) (io.ReadCloser, error) {
		if b, ok := s.cfg.Files[name]; ok {
			return io.NopCloser(bytes.NewReader(b)), nil
		}
		if rootFD < 0 {
			return os.Open(name)
		}
		fd, err := unix.Openat2(rootFD, strings.TrimPrefix(name, "/"), &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(fd)
			return nil, fmt.Errorf("%s in the rootfs is not a regular file", name)
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}
