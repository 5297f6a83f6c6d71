package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"nucleus/runtime/sbinit"
)

// prepareFDs opens what the init must not resolve itself: the rootfs and
// bind sources as detached mounts, the log directory and the exit file.
// Every source is resolved without following symlinks a sandbox could have
// planted (openSource), shown to cfg.CheckSource as the path of the pinned
// descriptor, and exactly that descriptor is mounted.
//
// Under a private user namespace the rootfs and read-only binds are
// idmapped (where the filesystem supports it): host root's files appear
// owned by root inside, and nothing can be written through them. Writable
// binds are not: what the sandbox writes is owned on the host by the
// project's id range, never by a real host user, so a setuid file it
// creates there is harmless on the host (issue 9; Podman's model). Every
// volume is nosuid,nodev.
func (s *Sandbox) prepareFDs(ic *sbinit.Config, userns bool) ([]int, error) {
	var fds []int
	var usernsFD = -1
	if userns {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/user", s.pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fds, fmt.Errorf("open sandbox user namespace: %w", err)
		}
		defer unix.Close(fd)
		usernsFD = fd
	}
	rootFD := -1 // the pinned rootfs, where :U reads /etc/passwd
	if s.cfg.Service.Rootfs != "" {
		fd, _, err := s.pinSource(s.cfg.Service.Rootfs, "", false)
		if err != nil {
			return fds, fmt.Errorf("rootfs %s: %w", s.cfg.Service.Rootfs, err)
		}
		defer unix.Close(fd)
		rootFD = fd
		if os.Geteuid() != 0 {
			// An ordinary user: the tree already has the sandbox's owners
			// (image/unpack unpacks in its user namespace); the init binds it.
			if err := rootlessRootfs(ic, fd, s.cfg.UpperDir, s.cfg.Service.ReadOnly); err != nil {
				return fds, fmt.Errorf("rootfs %s: %w", s.cfg.Service.Rootfs, err)
			}
		} else {
			mfd, idm, err := detachedMount(fd, 0, usernsFD)
			if err == nil && usernsFD >= 0 && !idm {
				// The file system refuses idmapped mounts: a shifted copy.
				unix.Close(mfd)
				mfd, err = s.shiftedRootfs(fd)
			}
			if err != nil {
				return fds, fmt.Errorf("rootfs %s: %w", s.cfg.Service.Rootfs, err)
			}
			ic.Rootfs, ic.FDRootfs = true, len(fds)
			fds = append(fds, mfd)
			s.idmapped = s.idmapped || idm
			if s.cfg.UpperDir != "" && !s.cfg.Service.ReadOnly {
				owner := 0
				if userns {
					owner = s.hostUID
				}
				ufd, err := upperMount(s.cfg.UpperDir, owner)
				if err != nil {
					return fds, fmt.Errorf("writable layer %s: %w", s.cfg.UpperDir, err)
				}
				ic.FDUpper = len(fds)
				fds = append(fds, ufd)
			}
		}
	}
	for _, m := range s.cfg.Mounts {
		im := sbinit.Mount{Type: "bind", Target: m.Target, ReadOnly: m.ReadOnly, FD: -1}
		if m.Type == MountTmpfs {
			im.Type, im.Size, im.Mode, im.NoExec = "tmpfs", m.Size, m.Mode, m.NoExec
		} else {
			fd, isDir, err := s.pinSource(m.Source, m.Target, m.Type == MountBind)
			if err != nil {
				return fds, fmt.Errorf("volume %s: %w", m.Target, err)
			}
			var attr uint64 = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
			if m.ReadOnly {
				attr |= unix.MOUNT_ATTR_RDONLY
			}
			// Named volumes are owned by the mapped root already, and a
			// writable bind must not write as host root: only read-only
			// binds are idmapped.
			ns := usernsFD
			if m.Type == MountVolume || !m.ReadOnly {
				ns = -1
			}
			// :U after the policy judged the pinned source, through it.
			var mfd int
			var idm bool
			if m.Chown {
				var uid, gid uint32
				if uid, gid, err = s.workloadHostIDs(s.cfg.Service.Process.User, rootFD); err == nil {
					err = chownTree(fd, uid, gid, m.Source)
				}
			}
			if err == nil && Rootless() {
				// The init clones it in its own mount namespace and
				// checks it is this pinned file (sbinit.Mount.Path).
				if im.Path, err = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil {
					mfd, fd = fd, -1
				}
			} else if err == nil {
				mfd, idm, err = detachedMount(fd, attr, ns)
			}
			if fd >= 0 {
				unix.Close(fd)
			}
			if err != nil {
				return fds, fmt.Errorf("volume %s: %s: %w", m.Target, m.Source, err)
			}
			im.IsDir = isDir
			im.FD = len(fds)
			fds = append(fds, mfd)
			s.idmapped = s.idmapped || idm
		}
		ic.Mounts = append(ic.Mounts, im)
	}
	for _, f := range s.cfg.Service.FileMounts {
		fd, err := contentFD(f.Data)
		if err != nil {
			return fds, fmt.Errorf("file %s: %w", f.Target, err)
		}
		ic.FileMounts = append(ic.FileMounts, sbinit.FileMount{Target: f.Target, UID: f.UID, GID: f.GID, Mode: f.Mode, FD: len(fds)})
		fds = append(fds, fd)
	}
	if s.cfg.Stdout == nil && !s.cfg.Terminal {
		logDir := s.logDir()
		if err := os.MkdirAll(logDir, 0o750); err != nil {
			return fds, fmt.Errorf("create log directory: %w", err)
		}
		// The init writes as the sandbox's root: the directory and the
		// files an earlier incarnation left (perhaps under another user
		// namespace setting) must be its own.
		uid, gid := 0, 0
		if userns {
			uid, gid = s.hostUID, s.hostUID
		}
		if s.sub != nil {
			// Rootless: container root is the user, whose group is not
			// its uid (chown to it would be refused).
			gid = s.sub.GID
		}
		if err := chownLogs(logDir, uid, gid); err != nil {
			return fds, fmt.Errorf("hand log directory to the sandbox: %w", err)
		}
		fd, err := unix.Open(logDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fds, fmt.Errorf("open log directory: %w", err)
		}
		ic.Logs, ic.LogMaxSize, ic.FDLogDir = true, s.cfg.LogMaxSize, len(fds)
		fds = append(fds, fd)
	}
	lfd, err := listenCtl(s.dir)
	if err != nil {
		return fds, err
	}
	ic.FDListener = len(fds)
	fds = append(fds, lfd)
	fd, err := unix.Open(filepath.Join(s.dir, "exit.json"), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fds, fmt.Errorf("create exit file: %w", err)
	}
	ic.FDExitFile = len(fds)
	fds = append(fds, fd)
	return fds, nil
}

// upperMount prepares dir (Config.UpperDir) to hold a writable layer, its
// upper/ and work/ owned by the sandbox's root (owner on the host), and
// returns a detached mount of it. The init mounts the overlay itself, in
// its own user namespace (overlayfs with userxattr, so that what the
// workload writes is owned by its range); it gets the directory as a
// mount because its mapped root may not search the state root's path to
// it. Not idmapped, as a writable bind: files land owned by the range.
// Earlier contents stay: they are the replica's writes.
//
// upper/ is the merged root's own directory: 0755 as an image's root, so a
// workload user other than root can enter / (dir keeps other host users
// out of it).
func upperMount(dir string, owner int) (int, error) {
	for _, d := range []struct {
		path string
		mode uint32
	}{{dir, 0o700}, {dir + "/upper", 0o755}, {dir + "/work", 0o700}} {
		if err := os.MkdirAll(d.path, os.FileMode(d.mode)); err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Lstat(d.path, &st); err != nil {
			return -1, err
		}
		if int(st.Uid) == owner && int(st.Gid) == owner && st.Mode&0o7777 == d.mode {
			continue // nothing to write (the file system may be read-only)
		}
		err := os.Lchown(d.path, owner, owner)
		if err == nil {
			err = os.Chmod(d.path, os.FileMode(d.mode))
		}
		if errors.Is(err, unix.EROFS) {
			continue // overlayfs will refuse it too: the init falls back to tmpfs
		}
		if err != nil {
			return -1, err
		}
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	mfd, _, err := detachedMount(fd, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, -1)
	return mfd, err
}

// rootlessRootfs gives the init of an ordinary user's sandbox the paths of
// its rootfs (the pinned fd's) and writable layer to bind itself
// (sbinit.Config.RootfsPath): the user cannot clone a mount in the host's
// mount namespace, the init can in its own. Neither is idmapped nor
// shifted: an image tree was unpacked in the user namespace the sandbox
// gets (image/unpack), so its owners are right as they are.
func rootlessRootfs(ic *sbinit.Config, fd int, upper string, readOnly bool) error {
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return fmt.Errorf("resolve pinned rootfs: %w", err)
	}
	ic.Rootfs, ic.RootfsPath = true, p
	if upper != "" && !readOnly {
		// The user's, root inside. upper/ is the merged root's directory:
		// 0755, as the image's root, so a workload user other than root
		// can enter it (upper itself keeps other host users out).
		for _, d := range []struct {
			path string
			mode os.FileMode
		}{{upper, 0o700}, {upper + "/upper", 0o755}, {upper + "/work", 0o700}} {
			err := os.MkdirAll(d.path, d.mode)
			if err == nil {
				err = os.Chmod(d.path, d.mode)
			}
			if err != nil {
				return fmt.Errorf("writable layer %s: %w", upper, err)
			}
		}
		ic.UpperPath = upper
	}
	return nil
}

// chownLogs gives a log directory and the log files in it to uid (gid = uid).
func chownLogs(dir string, uid, gid int) error {
	if err := os.Lchown(dir, uid, gid); err != nil {
		return err
	}
	matches, _ := filepath.Glob(filepath.Join(dir, sbinit.LogFile+"*"))
	for _, m := range matches {
		if err := os.Lchown(m, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// cgroupTaskFDs opens the files through which the init's spawner thread
// joins the workload's cgroup (cgroups.JoinFiles). Opened by host root: v2
// checks a migration against the credentials of the file's opener.
func (s *Sandbox) cgroupTaskFDs() ([]int, error) {
	var fds []int
	for _, f := range s.cg.JoinFiles() {
		fd, err := unix.Open(f, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			sbinit.CloseAll(fds)
			return nil, fmt.Errorf("open cgroup tasks file: %w", err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// pinSource resolves a mount source (openSource) and, for a bind volume
// (target != "") or the rootfs (target == ""), lets cfg.CheckSource judge
// the path of what was pinned. It returns the O_PATH descriptor and whether
// it is a directory.
func (s *Sandbox) pinSource(src, target string, check bool) (int, bool, error) {
	fd, err := openSource(src)
	if err != nil {
		return -1, false, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, false, err
	}
	if s.cfg.CheckSource != nil && (check || target == "") {
		real, err := fdPath(fd)
		if err == nil {
			err = s.cfg.CheckSource(target, real)
		}
		if err != nil {
			unix.Close(fd)
			return -1, false, err
		}
	}
	return fd, st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

// detachedMount clones the tree at the pinned descriptor src (open_tree),
// sets attr (MOUNT_ATTR_*) on it, and idmaps it into usernsFD when >= 0
// and the filesystem allows it.
func detachedMount(src int, attr uint64, usernsFD int) (int, bool, error) {
	fd, err := unix.OpenTree(src, "", unix.AT_EMPTY_PATH|unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return -1, false, fmt.Errorf("clone mount: %w", err)
	}
	idmapped := false
	if usernsFD >= 0 {
		a := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(usernsFD)}
		// Not every filesystem supports idmapped mounts (README: files then
		// keep their host owners, seen as nobody inside).
		if unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, a) == nil {
			idmapped = true
		}
	}
	if attr != 0 {
		a := &unix.MountAttr{Attr_set: attr}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, a); err != nil {
			unix.Close(fd)
			return -1, false, fmt.Errorf("set mount flags: %w", err)
		}
	}
	return fd, idmapped, nil
}
