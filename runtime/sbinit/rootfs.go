package sbinit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// HostSystemDirs make up the default root: a read-only view of the host's
// system directories. /root, /home, /var, /srv, /mnt and /media are never part
// of it.
var HostSystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"}

// maskedEtc are secrets under /etc hidden from the default root, whatever
// the user namespace: under `userns: host` root inside reads what host root
// reads, so file modes alone do not protect them. Password hashes, sudo
// rules, SSH host keys, and the places distributions keep private keys and
// credentials (Debian/Ubuntu, Fedora/RHEL, certbot, IPsec, Kerberos,
// WireGuard, NetworkManager, systemd credentials).
var maskedEtc = []string{"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/security/opasswd",
	"/etc/sudoers", "/etc/sudoers.d", "/etc/ssh/ssh_host_*",
	"/etc/ssl/private", "/etc/pki/tls/private", "/etc/pki/CA/private", "/etc/letsencrypt",
	"/etc/ipsec.secrets", "/etc/ipsec.d/private", "/etc/swanctl/private", "/etc/krb5.keytab",
	"/etc/wireguard", "/etc/NetworkManager/system-connections", "/etc/credstore", "/etc/credstore.encrypted"}

// maskedProc and readonlyProc follow what runc and moby hide in /proc and
// /sys by default (/proc/interrupts: per-CPU interrupt counts, a side channel).
var maskedProc = []string{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}
var readonlyProc = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// devices bound from the host /dev (mknod is not allowed in a user namespace).
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// DefaultTmpfsSize bounds a tmpfs volume whose size the file does not give,
// the same as /tmp. Its pages are charged to the sandbox's memory cgroup.
const DefaultTmpfsSize = 64 << 20

const (
	tmpSize = 64 << 20
	runSize = 16 << 20
)

// DefaultShmSize is /dev/shm's size when shm_size is not given (Docker's).
const DefaultShmSize = 64 << 20

// workspace is where the init assembles the root, in its own mount
// namespace: a tmpfs over the host's /tmp, which every host has and which
// needs no search permission on state directories the mapped (unprivileged)
// container root may not traverse. Host paths other than the world-readable
// system directories arrive as detached mounts (fds) from the caller.
const workspace = "/tmp"

// buildRoot assembles the sandbox root and pivots into it. fds are the fds
// received with the config (bind volumes, rootfs). It returns the root's
// writable layer (Message.Writable).
func buildRoot(c *Config, fds []int) (writable string, err error) {
	// Nothing we mount may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("make / a slave mount: %w", err)
	}
	// Sources given by path are cloned before the workspace hides /tmp.
	if fds, err = clonePaths(c, fds); err != nil {
		return "", err
	}
	if err := unix.Mount("nucleus-work", workspace, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=700,size=8m"); err != nil {
		return "", fmt.Errorf("mount workspace tmpfs: %w", err)
	}
	root, scratch := workspace+"/root", workspace+"/scratch"
	for _, d := range []string{root, scratch} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", fmt.Errorf("create workspace: %w", err)
		}
	}
	if !c.Rootfs {
		if err := hostView(c, root, scratch); err != nil {
			return "", err
		}
		if !c.ReadOnly {
			writable = WritableTmpfs
		}
	} else if writable, err = givenRootfs(c, root, scratch, fds); err != nil {
		return "", err
	}
	if err := mountSpecial(c, root); err != nil {
		return "", err
	}
	if err := mountVolumes(c, root, fds); err != nil {
		return "", err
	}
	if err := placeFiles(c, root, scratch); err != nil {
		return "", err
	}
	if err := mountFiles(c, root, scratch, fds); err != nil {
		return "", err
	}
	if c.ReadOnly {
		// Only the root mount itself: /tmp, /run, /dev and volumes stay as they are.
		if err := setAttr(root, unix.MOUNT_ATTR_RDONLY, false); err != nil {
			return "", fmt.Errorf("make the root read-only: %w", err)
		}
	}
	if c.Hostname != "" {
		if err := unix.Sethostname([]byte(c.Hostname)); err != nil {
			return "", fmt.Errorf("set hostname: %w", err)
		}
	}
	return writable, pivot(root)
}

// hostView mounts a small tmpfs as the root and binds the host's system
// directories into it read-only (symlinks such as /bin -> usr/bin are copied).
func hostView(c *Config, root, scratch string) error {
	if err := unix.Mount("nucleus-root", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=4m"); err != nil {
		return fmt.Errorf("mount root tmpfs: %w", err)
	}
	for _, d := range HostSystemDirs {
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
		if err := maskMatches(root, pat); err != nil {
			return err
		}
	}
	return nil
}

// maskMatches masks what pat (a path; only its last element may hold a
// pattern) names below root. One lstat per literal path, where
// filepath.Glob and mask each took one; a pattern reads its directory
// with plain syscalls, not os.Open (whose first use sets up Go's poller:
// epoll_create, eventfd, and fcntl and epoll_ctl around every open).
func maskMatches(root, pat string) error {
	dir, base := filepath.Split(pat)
	if !strings.ContainsAny(base, "*?[") {
		var st unix.Stat_t
		if err := unix.Lstat(root+pat, &st); err != nil {
			return nil // nothing to hide
		}
		return maskAs(root+pat, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	}
	names, err := readDirNames(root + dir)
	if err != nil {
		return nil
	}
	for _, n := range names {
		if ok, _ := filepath.Match(base, n); !ok {
			continue
		}
		var st unix.Stat_t
		if err := unix.Lstat(root+dir+n, &st); err != nil {
			continue
		}
		if err := maskAs(root+dir+n, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
			return err
		}
	}
	return nil
}

// readDirNames lists a directory with plain syscalls (see maskMatches).
func readDirNames(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			sort.Strings(names) // the order filepath.Glob mounted them in
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// givenRootfs uses a directory as the root: bound as is, or under a writable
// overlay when read_only is false. It returns the writable layer used.
//
// The directory is never written: it is the user's (rootfs:) or the image
// store's tree, shared by every replica of every service of that image. A
// read-only root that lacks a mount target gets a throwaway tmpfs layer to
// hold the mount points (made read-only with the rest of the root at the
// end); one that has them all is bound directly, which is cheaper to start.
func givenRootfs(c *Config, root, scratch string, fds []int) (string, error) {
	rfd, err := mountFD(c.RootfsPath, c.FDRootfs, fds, 0)
	if err != nil {
		return "", fmt.Errorf("rootfs: %w", err)
	}
	points := c.ReadOnly && missingTarget(c, rfd)
	dst := root
	if !c.ReadOnly || points {
		dst = scratch + "/lower"
		if err := os.Mkdir(dst, 0o755); err != nil {
			return "", fmt.Errorf("create rootfs lower dir: %w", err)
		}
	}
	if err := unix.MoveMount(rfd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return "", fmt.Errorf("attach rootfs: %w", err)
	}
	if points {
		return "", overlay(c, scratch, dst, root)
	}
	if c.ReadOnly {
		return "", nil
	}
	if c.UpperPath != "" || (c.FDUpper >= 0 && c.FDUpper < len(fds)) {
		ufd, err := mountFD(c.UpperPath, c.FDUpper, fds, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
		if err == nil {
			err = diskOverlay(c, ufd, scratch, dst, root)
		}
		if err == nil {
			return WritableUpper, nil
		}
		// The layer still works, in memory: say so on stderr (the
		// sandbox's log) and in the record (Writable).
		fmt.Fprintf(os.Stderr, "nucleus-init: writable layer on tmpfs, the upper directory cannot be used: %v\n", err)
	}
	return WritableTmpfs, overlay(c, scratch, dst, root)
}

// mountFD is a detached mount to attach: the caller's fds[i], or, given a
// path (an ordinary user's sandbox, Config.RootfsPath), a clone of that
// directory made here, in the init's own mount namespace, where the
// sandbox's user namespace may clone mounts and the caller could not.
// attr are set on such a clone, as the caller sets them on its own.
func mountFD(path string, i int, fds []int, attr uint64) (int, error) {
	if path != "" {
		fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			return -1, fmt.Errorf("clone mount of %s: %w", path, err)
		}
		if attr != 0 {
			if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr}); err != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("set mount flags of %s: %w", path, err)
			}
		}
		return fd, nil
	}
	if i < 0 || i >= len(fds) {
		return -1, fmt.Errorf("no mount fd")
	}
	return fds[i], nil
}

// clonePaths turns the sources an ordinary user's caller gave by path
// (Config.RootfsPath, UpperPath, Mount.Path) into detached mounts made
// here, appended to fds, while the host's paths are still visible.
func clonePaths(c *Config, fds []int) ([]int, error) {
	if c.RootfsPath != "" {
		fd, err := mountFD(c.RootfsPath, -1, nil, 0)
		if err != nil {
			return fds, fmt.Errorf("rootfs: %w", err)
		}
		c.RootfsPath, c.FDRootfs, fds = "", len(fds), append(fds, fd)
	}
	if c.UpperPath != "" {
		fd, err := mountFD(c.UpperPath, -1, nil, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
		if err != nil {
			return fds, fmt.Errorf("writable layer: %w", err)
		}
		c.UpperPath, c.FDUpper, fds = "", len(fds), append(fds, fd)
	}
	for i, m := range c.Mounts {
		if m.Path == "" || m.Type == "tmpfs" {
			continue
		}
		if m.FD < 0 || m.FD >= len(fds) {
			return fds, fmt.Errorf("volume %s: no pinned source", m.Target)
		}
		fd, err := clonePinned(m, fds[m.FD])
		if err != nil {
			return fds, fmt.Errorf("volume %s: %w", m.Target, err)
		}
		c.Mounts[i].Path, c.Mounts[i].FD, fds = "", len(fds), append(fds, fd)
	}
	return fds, nil
}

// specialDirs are the directories mountSpecial mounts on.
var specialDirs = []string{"/proc", "/dev", "/sys", "/tmp", "/run"}

// missingTarget reports whether a mount target of c is not in the tree
// rfd: special directories, volumes, generated files, secrets and configs.
// Any error counts as missing: the overlay is then there, whatever
// creating the target does.
func missingTarget(c *Config, rfd int) bool {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	exists := func(p string) bool {
		fd, err := unix.Openat2(rfd, p, how)
		if err != nil {
			return false
		}
		unix.Close(fd)
		return true
	}
	for _, p := range specialDirs {
		if !exists(p) {
			return true
		}
	}
	for _, m := range c.Mounts {
		if !exists(m.Target) {
			return true
		}
	}
	for p := range c.Files {
		if !exists(p) {
			return true
		}
	}
	for _, f := range c.FileMounts {
		if !exists(f.Target) {
			return true
		}
	}
	return false
}

// diskOverlay mounts lower under the writable layer kept in the caller's
// upper directory (a detached mount: the mapped root may not search the
// host path to it) at dst. Overlayfs refuses some upper file systems
// (overlayfs itself, ones without xattrs, or user xattrs under a private
// user namespace); the caller then falls back to tmpfs.
func diskOverlay(c *Config, fd int, scratch, lower, dst string) error {
	disk := scratch + "/disk"
	if err := os.Mkdir(disk, 0o755); err != nil {
		return fmt.Errorf("create upper mount point: %w", err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, disk, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach upper directory: %w", err)
	}
	err := mountOverlay(c, lower, disk+"/upper", disk+"/work", dst)
	if err != nil {
		_ = unix.Unmount(disk, unix.MNT_DETACH)
	}
	return err
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
	return mountOverlay(c, lower, up, work, dst)
}

// mountOverlay mounts an overlayfs of lower and up (work: its workdir) at
// dst. Under a private user namespace overlayfs keeps its metadata in
// user.* xattrs (userxattr): trusted.* needs host root.
func mountOverlay(c *Config, lower, up, work, dst string) error {
	opts := "lowerdir=" + lower + ",upperdir=" + up + ",workdir=" + work
	if c.UserNS {
		opts += ",userxattr"
	}
	// nosuid, nodev: no_new_privs already makes suid inert and the user
	// namespace devices unopenable; do not rest on one layer.
	if err := unix.Mount("overlay", dst, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount writable overlay on %s: %w", lower, err)
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
