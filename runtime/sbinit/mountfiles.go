package sbinit

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// mountFiles places secrets and configs: each memfd's content is copied
// into a tmpfs of the init's own (sized to what it holds), owned by the
// file's uid and gid inside the sandbox's user namespace with its mode,
// and bound over the target read-only, nosuid, nodev, noexec. The tmpfs is
// never mounted anywhere the workload can reach: only the files are.
func mountFiles(c *Config, root, scratch string, fds []int) error {
	if len(c.FileMounts) == 0 {
		return nil
	}
	var total int64
	for _, f := range c.FileMounts {
		if f.FD < 0 || f.FD >= len(fds) {
			return fmt.Errorf("file %s: no content fd", f.Target)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fds[f.FD], &st); err != nil {
			return fmt.Errorf("file %s: %w", f.Target, err)
		}
		total += (st.Size + 4095) &^ 4095
	}
	dir := filepath.Join(scratch, "files")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("create file mounts directory: %w", err)
	}
	opts := "mode=700,size=" + strconv.FormatInt(total+64<<10, 10)
	if err := unix.Mount("nucleus-files", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("mount file mounts tmpfs: %w", err)
	}
	for i, f := range c.FileMounts {
		if err := mountFile(f, root, filepath.Join(dir, strconv.Itoa(i)), fds[f.FD]); err != nil {
			return fmt.Errorf("file %s: %w", f.Target, err)
		}
	}
	return nil
}

func mountFile(f FileMount, root, src string, content int) error {
	out, err := os.OpenFile(src, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(content, &st); err != nil {
		out.Close()
		return err
	}
	// ReadAt: the caller's writes left the offset at the end.
	_, err = io.Copy(out, io.NewSectionReader(preader(content), 0, st.Size))
	if err == nil {
		err = out.Chown(f.UID, f.GID)
	}
	if err == nil {
		err = out.Chmod(os.FileMode(f.Mode & 0o777))
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write content: %w", err)
	}
	return bindReadOnly(src, root, f.Target)
}

// bindReadOnly binds the file src over target (resolved inside root)
// read-only, nosuid, nodev, noexec: the flags are set on the detached
// clone, so the file is never writable, even for a moment.
func bindReadOnly(src, root, target string) error {
	mfd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(mfd)
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC}
	if err := unix.MountSetattr(mfd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		return fmt.Errorf("make read-only: %w", err)
	}
	tfd, err := openTarget(root, target, false)
	if err != nil {
		return err
	}
	defer unix.Close(tfd)
	if err := unix.MoveMount(mfd, "", tfd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	return nil
}

// preader reads an fd at offsets without owning it (os.NewFile would close
// it when collected; the fds are closed with the rest of the config's).
type preader int

func (p preader) ReadAt(b []byte, off int64) (int, error) {
	n, err := unix.Pread(int(p), b, off)
	if err == nil && n == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	if n < 0 {
		n = 0
	}
	return n, err
}
