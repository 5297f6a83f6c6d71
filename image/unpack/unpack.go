// Package unpack applies image layers (tar streams) to a directory with the
// OCI rules, and refuses every entry that would land outside it.
//
// Every path is resolved relative to a directory fd with openat2
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS, and every
// file is made with the *at calls relative to its parent's fd, so neither a
// name with ".." nor a symlink planted by an earlier layer (or earlier in the
// same tar) can redirect a write outside the tree. Symlinks are created with
// their targets verbatim (they are resolved inside the sandbox later) and are
// never followed here.
//
// Character and block devices are skipped: a sandbox runs in a user
// namespace, where device nodes cannot be opened, and its /dev is built by
// the runtime. The one exception is the overlay whiteout form (a 0/0
// character device), which removes its name like ".wh.NAME".
package unpack

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults for the bounds of one layer; Options raise or lower them.
const (
	DefaultMaxBytes   = 32 << 30 // 32 GiB of file content
	DefaultMaxEntries = 1 << 20  // about a million entries
	// MaxPathLen is the longest entry name accepted (the kernel's PATH_MAX).
	MaxPathLen = unix.PathMax - 1
)

const (
	whPrefix = ".wh."
	whOpaque = ".wh..wh..opq"
)

// Options bound and describe one layer's application.
type Options struct {
	// Image and Layer name what is being applied, for errors
	// ("image docker.io/library/nginx:1.27 layer sha256:ab12...: entry
	// etc/passwd: ...").
	Image, Layer string
	// MaxBytes bounds the uncompressed bytes the layer may write (0: the
	// package default), so a decompression bomb fails instead of filling
	// the disk.
	MaxBytes int64
	// MaxEntries bounds the number of tar entries (0: DefaultMaxEntries),
	// so a layer of millions of empty files fails early.
	MaxEntries int
}

// Error is a refused or failed entry of a layer.
type Error struct {
	Image, Layer, Entry string
	Err                 error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Image != "" {
		b.WriteString("image " + e.Image + " ")
	}
	if e.Layer != "" {
		b.WriteString("layer " + e.Layer + " ")
	}
	if e.Entry != "" {
		fmt.Fprintf(&b, "entry %q", e.Entry)
	} else {
		b.WriteString("unpack")
	}
	return b.String() + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrEscape marks an entry refused because it would land outside the tree
// (absolute path, "..", or a path through a symlink).
var ErrEscape = errors.New("path escapes the tree")

// ErrLimit marks a layer that exceeds one of the bounds in Options.
var ErrLimit = errors.New("layer exceeds a bound")

// Apply applies one uncompressed layer tar stream to the tree at root,
// which holds the layers before it. Entries are applied as they arrive: on
// error the tree is left partly applied (the caller discards it), but
// nothing is ever written outside root. No file is synced: the caller syncs
// once when the whole chain is applied.
func Apply(root string, layer io.Reader, o Options) error {
	rootfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &Error{Image: o.Image, Layer: o.Layer, Err: fmt.Errorf("open root %s: %w", root, err)}
	}
	a := &applier{
		o: o, root: rootfd, cached: -1,
		created:  map[string]struct{}{},
		dirTimes: map[string]unix.Timespec{},
		buf:      make([]byte, 1<<20),
	}
	if a.o.MaxBytes <= 0 {
		a.o.MaxBytes = DefaultMaxBytes
	}
	if a.o.MaxEntries <= 0 {
		a.o.MaxEntries = DefaultMaxEntries
	}
	defer a.close()
	tr := tar.NewReader(layer)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return a.fail("", fmt.Errorf("read tar: %w", err))
		}
		if n >= a.o.MaxEntries {
			return a.fail(h.Name, fmt.Errorf("%w: more than %d entries (Options.MaxEntries; raise it for larger layers)", ErrLimit, a.o.MaxEntries))
		}
		if err := a.entry(h, tr); err != nil {
			return a.fail(h.Name, err)
		}
	}
	a.setDirTimes()
	return nil
}

type applier struct {
	o       Options
	root    int
	written int64
	// cached is an fd of the directory cachedDir (relative to root), the
	// parent of the last entry: tars list a directory's files together.
	cached    int
	cachedDir string
	// created holds every path this layer made, so an opaque marker
	// removes only what earlier layers left, whatever the tar order.
	created map[string]struct{}
	// dirTimes are set last, as tar does: creating children changes them.
	dirTimes map[string]unix.Timespec
	buf      []byte
}

func (a *applier) fail(entry string, err error) error {
	return &Error{Image: a.o.Image, Layer: a.o.Layer, Entry: entry, Err: err}
}

func (a *applier) close() {
	a.dropCache()
	unix.Close(a.root)
}

func (a *applier) dropCache() {
	if a.cached >= 0 {
		unix.Close(a.cached)
	}
	a.cached, a.cachedDir = -1, ""
}

// clean turns an entry name into a path relative to root, or refuses it.
// A leading "./" (docker save) is normal; an absolute name is refused, as is
// any ".." that climbs above the root.
func clean(name string) (string, error) {
	if len(name) > MaxPathLen {
		return "", fmt.Errorf("%w: name longer than %d bytes", ErrLimit, MaxPathLen)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute path", ErrEscape)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("name contains a NUL byte")
	}
	p := path.Clean(name)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%w: \"..\" climbs above the root", ErrEscape)
	}
	return p, nil
}

func (a *applier) entry(h *tar.Header, r io.Reader) error {
	p, err := clean(h.Name)
	if err != nil {
		return err
	}
	if p == "." {
		// The root itself: its owner and mode are the caller's.
		if h.Typeflag == tar.TypeDir {
			return nil
		}
		return errors.New("only a directory may name the root")
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	if strings.HasPrefix(base, whPrefix) {
		return a.whiteout(dir, base)
	}
	if h.Typeflag == tar.TypeChar && h.Devmajor == 0 && h.Devminor == 0 {
		return a.whiteout(dir, whPrefix+base) // overlay-style whiteout
	}
	switch h.Typeflag {
	case tar.TypeChar, tar.TypeBlock:
		return nil // devices are skipped (see the package comment)
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo:
	default:
		return nil // PAX/GNU metadata is consumed by archive/tar; others carry no file
	}
	// A cached parent fd below (or at) a path this entry replaces would
	// point into a detached tree.
	if a.cachedDir == p || strings.HasPrefix(a.cachedDir, p+"/") {
		a.dropCache()
	}
	pfd, err := a.parent(dir, true)
	if err != nil {
		return err
	}
	a.created[p] = struct{}{}
	switch h.Typeflag {
	case tar.TypeDir:
		return a.mkdir(pfd, p, base, h)
	case tar.TypeReg:
		return a.file(pfd, base, h, r)
	case tar.TypeSymlink:
		return a.symlink(pfd, base, h)
	case tar.TypeLink:
		return a.hardlink(pfd, base, h)
	default:
		return a.fifo(pfd, base, h)
	}
}

// resolveFlags forbid every symlink and every climb out of the start fd.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

func openBeneath(dirfd int, p string, flags uint64) (int, error) {
	for {
		fd, err := unix.Openat2(dirfd, p, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: resolveFlags})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// resolveErr says in words why a path could not be resolved beneath root.
func resolveErr(what, p string, err error) error {
	switch err {
	case unix.ELOOP:
		return fmt.Errorf("%w: %s %q goes through a symlink", ErrEscape, what, p)
	case unix.EXDEV:
		return fmt.Errorf("%w: %s %q leaves the tree", ErrEscape, what, p)
	case unix.ENOTDIR:
		return fmt.Errorf("%s %q: a component is not a directory", what, p)
	}
	return fmt.Errorf("%s %q: %w", what, p, err)
}

// parent returns an O_PATH fd of dir (relative to root), owned by the cache;
// with create, missing directories are made (0755, root-owned, as tar does).
func (a *applier) parent(dir string, create bool) (int, error) {
	if a.cached >= 0 && a.cachedDir == dir {
		return a.cached, nil
	}
	fd, err := openBeneath(a.root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err == unix.ENOENT && create {
		fd, err = a.mkdirAll(dir)
	}
	if err != nil {
		return -1, resolveErr("parent", dir, err)
	}
	a.dropCache()
	a.cached, a.cachedDir = fd, dir
	return fd, nil
}

func (a *applier) mkdirAll(dir string) (int, error) {
	fd, err := unix.Dup(a.root)
	if err != nil {
		return -1, err
	}
	sofar := ""
	for _, c := range strings.Split(dir, "/") {
		if sofar == "" {
			sofar = c
		} else {
			sofar += "/" + c
		}
		next, err := openBeneath(fd, c, unix.O_PATH|unix.O_DIRECTORY)
		if err == unix.ENOENT {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || err == unix.EEXIST {
				a.created[sofar] = struct{}{}
				next, err = openBeneath(fd, c, unix.O_PATH|unix.O_DIRECTORY)
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// clear removes what is at base unless it is a directory and keepDir is
// set (a directory entry over a directory merges). It reports whether a
// directory was kept.
func clear(pfd int, base string, keepDir bool) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, fmt.Errorf("stat existing: %w", err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR && keepDir {
		return true, nil
	}
	return false, removeAt(pfd, base)
}

// create runs mk, and when something is in the way removes it (keeping a
// directory when keepDir is set: a directory over a directory merges) and
// runs mk again. Trying first saves a stat per entry on a fresh tree.
func create(pfd int, base string, keepDir bool, mk func() error) (kept bool, err error) {
	if err = mk(); err != unix.EEXIST {
		return false, err
	}
	if kept, err = clear(pfd, base, keepDir); kept || err != nil {
		return kept, err
	}
	return false, mk()
}

// removeAt removes base below pfd and, for a directory, all it holds,
// without following a symlink.
func removeAt(pfd int, base string) error {
	err := unix.Unlinkat(pfd, base, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR {
		return fmt.Errorf("remove %s: %w", base, err)
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", base, err)
	}
	names, err := readNames(fd)
	if err == nil {
		for _, n := range names {
			if err = removeAt(fd, n); err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", base, err)
	}
	return nil
}

// readNames lists a directory fd (which it does not close).
func readNames(fd int) ([]string, error) {
	var names []string
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read directory: %w", err)
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

func (a *applier) whiteout(dir, base string) error {
	a.dropCache() // removals may take the cached directory with them
	pfd, err := a.parent(dir, base == whOpaque)
	if err == nil && base == whOpaque {
		a.created[dir] = struct{}{}
		return a.opaque(pfd, dir)
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // nothing to remove
		}
		return err
	}
	name := strings.TrimPrefix(base, whPrefix)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, whPrefix) {
		return fmt.Errorf("invalid whiteout name %q", base)
	}
	p := name
	if dir != "." {
		p = dir + "/" + name
	}
	if _, ok := a.created[p]; ok {
		return nil // whiteouts hide earlier layers only
	}
	return removeAt(pfd, name)
}

// opaque removes below dir everything this layer did not create.
func (a *applier) opaque(fd int, dir string) error {
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open opaque directory: %w", err)
	}
	defer unix.Close(dfd)
	names, err := readNames(dfd)
	if err != nil {
		return err
	}
	for _, n := range names {
		p := n
		if dir != "." {
			p = dir + "/" + n
		}
		if _, ok := a.created[p]; !ok {
			if err := removeAt(dfd, n); err != nil {
				return err
			}
			continue
		}
		// A directory this layer named may still hold earlier children.
		var st unix.Stat_t
		if unix.Fstatat(dfd, n, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		cfd, err := unix.Openat(dfd, n, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", p, err)
		}
		err = a.opaque(cfd, p)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) mkdir(pfd int, p, base string, h *tar.Header) error {
	if _, err := create(pfd, base, true, func() error { return unix.Mkdirat(pfd, base, 0o700) }); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer unix.Close(fd)
	if err := a.meta(fd, h); err != nil {
		return err
	}
	a.dirTimes[p] = unix.NsecToTimespec(h.ModTime.UnixNano())
	return nil
}

func (a *applier) file(pfd int, base string, h *tar.Header, r io.Reader) error {
	// O_EXCL, and unlink what is in the way: never write in place, the old
	// file may be a hardlink shared with another path.
	fd := -1
	_, err := create(pfd, base, false, func() (err error) {
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	defer unix.Close(fd)
	if h.Size > 0 {
		if err := a.copy(fd, r); err != nil {
			return err
		}
	}
	if err := a.meta(fd, h); err != nil {
		return err
	}
	return a.times(fd, "", h, 0)
}

func (a *applier) copy(fd int, r io.Reader) error {
	for {
		n, rerr := r.Read(a.buf)
		if n > 0 {
			a.written += int64(n)
			if a.written > a.o.MaxBytes {
				return fmt.Errorf("%w: more than %d bytes of file content (Options.MaxBytes; raise it for larger layers)", ErrLimit, a.o.MaxBytes)
			}
			for b := a.buf[:n]; len(b) > 0; {
				w, err := unix.Write(fd, b)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					return fmt.Errorf("write: %w", err)
				}
				b = b[w:]
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read tar: %w", rerr)
		}
	}
}

func (a *applier) symlink(pfd int, base string, h *tar.Header) error {
	if _, err := create(pfd, base, false, func() error { return unix.Symlinkat(h.Linkname, pfd, base) }); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	if err := own(pfd, base, h); err != nil {
		return err
	}
	return a.times(pfd, base, h, unix.AT_SYMLINK_NOFOLLOW)
}

func (a *applier) hardlink(pfd int, base string, h *tar.Header) error {
	t, err := clean(h.Linkname)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", h.Linkname, err)
	}
	if t == "." {
		return fmt.Errorf("hardlink target %q: not a regular file", h.Linkname)
	}
	tdir, tbase := path.Split(t)
	tdir = strings.TrimSuffix(tdir, "/")
	if tdir == "" {
		tdir = "."
	}
	tfd, err := openBeneath(a.root, tdir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", h.Linkname, resolveErr("parent", tdir, err))
	}
	defer unix.Close(tfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hardlink target %q: must be an earlier entry: %w", h.Linkname, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("hardlink target %q: not a regular file", h.Linkname)
	}
	var cur unix.Stat_t
	if unix.Fstatat(pfd, base, &cur, unix.AT_SYMLINK_NOFOLLOW) == nil && cur.Ino == st.Ino && cur.Dev == st.Dev {
		return nil // already this file (a link to itself)
	}
	if _, err := create(pfd, base, false, func() error { return unix.Linkat(tfd, tbase, pfd, base, 0) }); err != nil {
		return fmt.Errorf("hardlink to %q: %w", h.Linkname, err)
	}
	return nil
}

func (a *applier) fifo(pfd int, base string, h *tar.Header) error {
	if _, err := create(pfd, base, false, func() error { return unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0) }); err != nil {
		return fmt.Errorf("mkfifo: %w", err)
	}
	if err := own(pfd, base, h); err != nil {
		return err
	}
	// Opening a fifo would block: chmod by name, without following a
	// symlink (fchmodat2, Linux 6.6); older kernels follow, but the name
	// was just made as a fifo in a directory only this process writes.
	mode := uint32(h.Mode) & 0o7777
	err := unix.Fchmodat(pfd, base, mode, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.EOPNOTSUPP {
		err = unix.Fchmodat(pfd, base, mode, 0)
	}
	if err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return a.times(pfd, base, h, unix.AT_SYMLINK_NOFOLLOW)
}

// own gives an entry the tar's uid and gid. It is the one place ownership
// is decided. An ordinary user's unpack runs it unchanged inside a user
// namespace mapped like the user's sandboxes (userns.go), so the kernel
// stores the ids those sandboxes see as the tar's.
func own(fd int, base string, h *tar.Header) error {
	var err error
	if base == "" {
		err = unix.Fchown(fd, h.Uid, h.Gid)
	} else {
		err = unix.Fchownat(fd, base, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("chown %d:%d: %w", h.Uid, h.Gid, err)
	}
	return nil
}

// meta sets owner, mode and xattrs on an open file or directory, in that
// order: chown clears setuid bits and security.capability.
func (a *applier) meta(fd int, h *tar.Header) error {
	if err := own(fd, "", h); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(h.Mode)&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	for k, v := range h.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !keepXattr(name) {
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

// keepXattr says which extended attributes a layer may set: user.* (data
// of the image) and security.capability (file capabilities, which the
// user namespace bounds). trusted.* needs CAP_SYS_ADMIN in the host and
// means nothing in a sandbox; security.selinux and other LSM labels and
// system.* (ACLs naming host ids) belong to the host, not the image.
func keepXattr(name string) bool {
	return strings.HasPrefix(name, "user.") || name == "security.capability"
}

func (a *applier) times(fd int, base string, h *tar.Header, flags int) error {
	ts := []unix.Timespec{timespec(h.AccessTime, h.ModTime), timespec(h.ModTime, h.ModTime)}
	var err error
	if base == "" {
		err = unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
	} else {
		err = unix.UtimesNanoAt(fd, base, ts, flags)
	}
	if err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func timespec(t, def time.Time) unix.Timespec {
	if t.IsZero() {
		t = def
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// setDirTimes gives directories their times once their contents are in.
// A directory replaced later by another kind of entry is skipped.
func (a *applier) setDirTimes() {
	a.dropCache()
	for p, ts := range a.dirTimes {
		fd, err := openBeneath(a.root, p, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			continue
		}
		_ = unix.UtimesNanoAt(fd, "", []unix.Timespec{ts, ts}, unix.AT_EMPTY_PATH)
		unix.Close(fd)
	}
}
