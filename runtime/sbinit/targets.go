package sbinit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountVolumes mounts binds (detached mounts from the caller) and tmpfs
// volumes, parents before children. Targets are resolved inside the root:
// a symlink in the target path can never lead out of it.
func mountVolumes(c *Config, root string, fds []int) error {
	ms := append([]Mount(nil), c.Mounts...)
	sort.SliceStable(ms, func(i, j int) bool { return depth(ms[i].Target) < depth(ms[j].Target) })
	for _, m := range ms {
		isDir := m.Type == "tmpfs" || m.IsDir
		tfd, err := openTarget(root, m.Target, isDir)
		if err != nil {
			return fmt.Errorf("volume %s: %w", m.Target, err)
		}
		err = func() error {
			defer unix.Close(tfd)
			switch m.Type {
			case "tmpfs":
				// Never the kernel's default (half the host's RAM): a
				// sandbox without a memory limit could fill it.
				size := m.Size
				if size <= 0 {
					size = DefaultTmpfsSize
				}
				mode := m.Mode
				if mode == 0 {
					mode = 0o1777
				}
				opts := "mode=" + strconv.FormatUint(uint64(mode), 8) + ",size=" + strconv.FormatInt(size, 10)
				var fl uintptr = unix.MS_NOSUID | unix.MS_NODEV
				if m.NoExec {
					fl |= unix.MS_NOEXEC
				}
				if m.ReadOnly {
					fl |= unix.MS_RDONLY
				}
				if err := unix.Mount("tmpfs", procFD(tfd), "tmpfs", fl, opts); err != nil {
					return fmt.Errorf("mount tmpfs: %w", err)
				}
			default:
				if m.FD < 0 || m.FD >= len(fds) {
					return fmt.Errorf("no mount fd for bind volume")
				}
				if err := unix.MoveMount(fds[m.FD], "", tfd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
					return fmt.Errorf("attach bind mount: %w", err)
				}
			}
			return nil
		}()
		if err != nil {
			return fmt.Errorf("volume %s: %w", m.Target, err)
		}
	}
	return nil
}

// clonePinned clones m.Path here (Mount.Path, see clonePaths) with the caller's flags
// (nosuid, nodev, read-only) and checks it is the pinned file pin.
func clonePinned(m Mount, pin int) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, m.Path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return -1, fmt.Errorf("clone mount of %s: %w", m.Path, err)
	}
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil || unix.Fstat(pin, &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
		unix.Close(fd)
		return -1, fmt.Errorf("clone mount of %s: not the source that was checked (changed meanwhile)", m.Path)
	}
	var attr uint64 = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	if m.ReadOnly {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("set mount flags of %s: %w", m.Path, err)
	}
	return fd, nil
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// openTarget opens (creating when missing) the mount target p inside root
// with RESOLVE_IN_ROOT, so symlinks resolve as if root were "/". The root
// itself is refused as a target: it would cover the whole sandbox.
func openTarget(root, p string, dir bool) (int, error) {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open root: %w", err)
	}
	defer unix.Close(rfd)
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(rfd, p, how)
	if errors.Is(err, unix.ENOENT) {
		if err := createIn(rfd, p, dir, 0); err != nil {
			return -1, err
		}
		fd, err = unix.Openat2(rfd, p, how)
	}
	if err != nil {
		return -1, fmt.Errorf("resolve target inside the root: %w", err)
	}
	var st, rst unix.Stat_t
	if err := unix.Fstat(fd, &st); err == nil && unix.Fstat(rfd, &rst) == nil && st.Dev == rst.Dev && st.Ino == rst.Ino {
		unix.Close(fd)
		return -1, fmt.Errorf("target resolves to the sandbox root (a symlink to /?); refusing to mount over the root")
	}
	return fd, nil
}

// createIn creates p (and its parents) below rfd, never leaving the root.
// When p's last component is a dangling symlink (e.g. /etc/resolv.conf ->
// ../run/systemd/resolve/stub-resolv.conf), its target is created instead,
// resolved inside the root like everything else.
func createIn(rfd int, p string, dir bool, depth int) error {
	if depth > 8 {
		return fmt.Errorf("create mount target %s: too many levels of symbolic links", p)
	}
	parent, base := filepath.Split(filepath.Clean(p))
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	pfd, err := unix.Openat2(rfd, parent, how)
	if errors.Is(err, unix.ENOENT) && parent != "/" {
		if err := createIn(rfd, parent, true, depth+1); err != nil {
			return err
		}
		pfd, err = unix.Openat2(rfd, parent, how)
	}
	if err != nil {
		return fmt.Errorf("open %s inside the root: %w", parent, err)
	}
	defer unix.Close(pfd)
	if dir {
		err = unix.Mkdirat(pfd, base, 0o755)
	} else {
		var fd int
		fd, err = unix.Openat(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
		if err == nil {
			unix.Close(fd)
		}
	}
	if errors.Is(err, unix.EEXIST) {
		buf := make([]byte, unix.PathMax)
		if n, lerr := unix.Readlinkat(pfd, base, buf); lerr == nil {
			target := string(buf[:n])
			if !filepath.IsAbs(target) {
				target = filepath.Join(parent, target)
			}
			return createIn(rfd, target, dir, depth+1)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("create mount target %s: %w", p, err)
	}
	return nil
}

func procFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// placeFiles writes generated files (resolv.conf, hosts) to the scratch
// tmpfs and binds them read-only over their targets.
func placeFiles(c *Config, root, scratch string) error {
	names := make([]string, 0, len(c.Files))
	for p := range c.Files {
		names = append(names, p)
	}
	sort.Strings(names)
	for i, p := range names {
		src := filepath.Join(scratch, "file"+strconv.Itoa(i))
		if err := os.WriteFile(src, c.Files[p], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		if err := bindReadOnly(src, root, p); err != nil {
			return fmt.Errorf("bind file %s: %w", p, err)
		}
	}
	return nil
}
