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

// hostSystemDirs make up the default root: a read-only view of the host's
// system directories. /root, /home, /var, /srv, /mnt and /media are never part
// of it.
var hostSystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"}

// maskedEtc are secrets under /etc hidden from the default root.
var maskedEtc = []string{"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers", "/etc/sudoers.d", "/etc/ssh/ssh_host_*"}

// maskedProc and readonlyProc follow what mainstream runtimes hide in /proc.
var maskedProc = []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}
var readonlyProc = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// devices bound from the host /dev (mknod is not allowed in a user namespace).
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

const (
	tmpSize = 64 << 20
	runSize = 16 << 20
	shmSize = 64 << 20
)

// workspace is where the init assembles the root, in its own mount
// namespace: a tmpfs over the host's /tmp, which every host has and which
// needs no search permission on state directories the mapped (unprivileged)
// container root may not traverse. Host paths other than the world-readable
// system directories arrive as detached mounts (fds) from the caller.
const workspace = "/tmp"

// buildRoot assembles the sandbox root and pivots into it.
// fds are the fds received with the config (bind volumes, rootfs).
func buildRoot(c *Config, fds []int) error {
	// Nothing we mount may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	if err := unix.Mount("nucleus-work", workspace, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=700,size=8m"); err != nil {
		return fmt.Errorf("mount workspace tmpfs: %w", err)
	}
	root, scratch := workspace+"/root", workspace+"/scratch"
	for _, d := range []string{root, scratch} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("create workspace: %w", err)
		}
	}
	if !c.Rootfs {
		if err := hostView(c, root, scratch); err != nil {
			return err
		}
	} else if err := givenRootfs(c, root, scratch, fds); err != nil {
		return err
	}
	if err := mountSpecial(c, root); err != nil {
		return err
	}
	if err := mountVolumes(c, root, fds); err != nil {
		return err
	}
	if err := placeFiles(c, root, scratch); err != nil {
		return err
	}
	if c.ReadOnly {
		// Only the root mount itself: /tmp, /run, /dev and volumes stay as they are.
		if err := setAttr(root, unix.MOUNT_ATTR_RDONLY, false); err != nil {
			return fmt.Errorf("make the root read-only: %w", err)
		}
	}
	if c.Hostname != "" {
		if err := unix.Sethostname([]byte(c.Hostname)); err != nil {
			return fmt.Errorf("set hostname: %w", err)
		}
	}
	return pivot(root)
}

// hostView mounts a small tmpfs as the root and binds the host's system
// directories into it read-only (symlinks such as /bin -> usr/bin are copied).
func hostView(c *Config, root, scratch string) error {
	if err := unix.Mount("nucleus-root", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=4m"); err != nil {
		return fmt.Errorf("mount root tmpfs: %w", err)
	}
	for _, d := range hostSystemDirs {
		fi, err := os.Lstat(d)
		if err != nil {
			continue
		}
		dst := root + d
		if fi.Mode()&os.ModeSymlink != 0 {
			t, err := os.Readlink(d)
			if err != nil {
				return fmt.Errorf("read host symlink %s: %w", d, err)
			}
			if err := os.Symlink(t, dst); err != nil {
				return fmt.Errorf("copy host symlink %s: %w", d, err)
			}
			continue
		}
		if !fi.IsDir() {
			continue
		}
		if err := os.Mkdir(dst, 0o755); err != nil {
			return fmt.Errorf("create %s in the root: %w", d, err)
		}
		if c.ReadOnly {
			if err := unix.Mount(d, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind host %s: %w", d, err)
			}
			if err := setAttr(dst, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, true); err != nil {
				return fmt.Errorf("make %s read-only: %w", d, err)
			}
		} else if err := overlay(c, scratch, d, dst); err != nil {
			return err
		}
	}
	for _, pat := range maskedEtc {
		matches, _ := filepath.Glob(root + pat)
		for _, m := range matches {
			if err := mask(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// givenRootfs uses a directory as the root: bound as is, or under a writable
// tmpfs overlay when read_only is false.
func givenRootfs(c *Config, root, scratch string, fds []int) error {
	if c.FDRootfs < 0 || c.FDRootfs >= len(fds) {
		return fmt.Errorf("no rootfs mount fd")
	}
	dst := root
	if !c.ReadOnly {
		dst = scratch + "/lower"
		if err := os.Mkdir(dst, 0o755); err != nil {
			return fmt.Errorf("create rootfs lower dir: %w", err)
		}
	}
	if err := unix.MoveMount(fds[c.FDRootfs], "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach rootfs: %w", err)
	}
	if !c.ReadOnly {
		return overlay(c, scratch, dst, root)
	}
	return nil
}

// overlay mounts lower under a writable tmpfs layer at dst (read_only: false).
func overlay(c *Config, scratch, lower, dst string) error {
	base := filepath.Join(scratch, "ovl", strings.ReplaceAll(strings.Trim(lower, "/"), "/", "_"))
	up, work := base+"/upper", base+"/work"
	for _, d := range []string{up, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create overlay layer for %s: %w", lower, err)
		}
	}
	opts := "lowerdir=" + lower + ",upperdir=" + up + ",workdir=" + work + ",userxattr"
	if !c.UserNS {
		opts = "lowerdir=" + lower + ",upperdir=" + up + ",workdir=" + work
	}
	if err := unix.Mount("overlay", dst, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount writable overlay on %s: %w", lower, err)
	}
	return nil
}

// mountSpecial mounts /proc, /dev, /sys, /tmp and /run.
func mountSpecial(c *Config, root string) error {
	const nsd = unix.MS_NOSUID | unix.MS_NODEV
	if err := mkdirIn(root, "/proc"); err != nil {
		return err
	}
	if err := unix.Mount("proc", root+"/proc", "proc", nsd|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := mountDev(root); err != nil {
		return err
	}
	if err := mkdirIn(root, "/sys"); err != nil {
		return err
	}
	if err := unix.Mount("sysfs", root+"/sys", "sysfs", nsd|unix.MS_NOEXEC|unix.MS_RDONLY, ""); err != nil {
		// sysfs needs a network namespace of our own; otherwise bind the host's read-only.
		if err2 := unix.Mount("/sys", root+"/sys", "", unix.MS_BIND|unix.MS_REC, ""); err2 != nil {
			return fmt.Errorf("mount /sys: %v; bind: %w", err, err2)
		}
		if err := setAttr(root+"/sys", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, true); err != nil {
			return fmt.Errorf("make /sys read-only: %w", err)
		}
	}
	for _, p := range maskedProc {
		if err := mask(root + p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for _, p := range readonlyProc {
		if _, err := os.Lstat(root + p); err != nil {
			continue
		}
		if err := unix.Mount(root+p, root+p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
		if err := setAttr(root+p, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, true); err != nil {
			return fmt.Errorf("make %s read-only: %w", p, err)
		}
	}
	if err := tmpfs(root, "/tmp", "mode=1777,size="+strconv.Itoa(tmpSize)); err != nil {
		return err
	}
	return tmpfs(root, "/run", "mode=755,size="+strconv.Itoa(runSize))
}

func tmpfs(root, target, opts string) error {
	if err := mkdirIn(root, target); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", root+target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", target, err)
	}
	return nil
}

// mountDev builds a minimal /dev: a few host devices, a private devpts, shm.
func mountDev(root string) error {
	dev := root + "/dev"
	if err := mkdirIn(root, "/dev"); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=755,size=64k"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, d := range devices {
		p := dev + "/" + d
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return fmt.Errorf("create /dev/%s: %w", d, err)
		}
		if err := unix.Mount("/dev/"+d, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", d, err)
		}
	}
	if err := os.Mkdir(dev+"/pts", 0o755); err != nil {
		return fmt.Errorf("create /dev/pts: %w", err)
	}
	if err := unix.Mount("devpts", dev+"/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("mount /dev/pts: %w", err)
	}
	if err := os.Mkdir(dev+"/shm", 0o1777); err != nil {
		return fmt.Errorf("create /dev/shm: %w", err)
	}
	if err := unix.Mount("shm", dev+"/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size="+strconv.Itoa(shmSize)); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	for name, target := range map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, dev+"/"+name); err != nil {
			return fmt.Errorf("create /dev/%s: %w", name, err)
		}
	}
	return nil
}

// mask hides a path: /dev/null over a file, an empty read-only tmpfs over a directory.
func mask(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0"); err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
		return nil
	}
	if err := unix.Mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

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
				opts := "mode=1777"
				if m.Size > 0 {
					opts += ",size=" + strconv.FormatInt(m.Size, 10)
				}
				var fl uintptr = unix.MS_NOSUID | unix.MS_NODEV
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
		tfd, err := openTarget(root, p, false)
		if err != nil {
			return fmt.Errorf("file %s: %w", p, err)
		}
		err = unix.Mount(src, procFD(tfd), "", unix.MS_BIND, "")
		unix.Close(tfd)
		if err != nil {
			return fmt.Errorf("bind file %s: %w", p, err)
		}
	}
	return nil
}

// mkdirIn creates root+p when missing.
func mkdirIn(root, p string) error {
	if err := os.Mkdir(root+p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s in the root (the rootfs must provide it): %w", p, err)
	}
	return nil
}

// setAttr applies mount attributes with mount_setattr, which only changes the
// flags named, so it works on mounts whose other flags are locked by a user
// namespace.
func setAttr(p string, attr uint64, recursive bool) error {
	flags := 0
	if recursive {
		flags = unix.AT_RECURSIVE
	}
	return unix.MountSetattr(unix.AT_FDCWD, p, uint(flags), &unix.MountAttr{Attr_set: attr})
}

// pivot makes root the root of the mount namespace and detaches the old one.
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("enter new root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}
