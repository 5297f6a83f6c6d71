package sbinit

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// mountSpecial mounts /proc, /dev, /sys, /tmp and /run.
func mountSpecial(c *Config, root string) error {
	const nsd = unix.MS_NOSUID | unix.MS_NODEV
	if err := mkdirIn(root, "/proc"); err != nil {
		return err
	}
	if err := unix.Mount("proc", root+"/proc", "proc", nsd|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := mountDev(root, c.ShmSize); err != nil {
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
		// No lstat first: a path this kernel lacks fails the bind with ENOENT.
		if err := unix.Mount(root+p, root+p, "", unix.MS_BIND|unix.MS_REC, ""); errors.Is(err, unix.ENOENT) {
			continue
		} else if err != nil {
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
func mountDev(root string, shmSize int64) error {
	if shmSize <= 0 {
		shmSize = DefaultShmSize
	}
	dev := root + "/dev"
	if err := mkdirIn(root, "/dev"); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=755,size=64k"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, d := range devices {
		p := dev + "/" + d
		// An empty regular file as the mount point: one mknod, where
		// creating it through open, write and close takes three syscalls.
		if err := unix.Mknod(p, unix.S_IFREG|0o666, 0); err != nil {
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
	if err := unix.Mount("shm", dev+"/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size="+strconv.FormatInt(shmSize, 10)); err != nil {
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
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	return maskAs(p, st.Mode&unix.S_IFMT == unix.S_IFDIR)
}

// maskAs is mask of a path known to be a directory or not.
func maskAs(p string, dir bool) error {
	if dir {
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
