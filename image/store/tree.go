package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"nucleus/image/unpack"
)

// TreePath is where the unpacked tree of img lives (present or not).
func (s *Store) TreePath(img *Image) (string, error) {
	h, err := hexOf(img.ChainID)
	if err != nil {
		return "", fmt.Errorf("image %s: chain ID: %w", img.Ref, err)
	}
	return filepath.Join(s.Dir, "trees", h), nil
}

// Tree returns the unpacked root of img, unpacking its layers if no image
// with the same layer chain did so before.
func (s *Store) Tree(ctx context.Context, img *Image) (string, error) {
	return s.TreeWhile(ctx, img, nil)
}

// TreeWhile is Tree for a pull under way: before layer i is applied it
// calls ready(i) (when not nil), which waits until that layer's blob is in
// the store, so the first layers unpack while the later ones download.
func (s *Store) TreeWhile(ctx context.Context, img *Image, ready func(i int) error) (string, error) {
	dir, err := s.TreePath(img)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	hexID := filepath.Base(dir)
	unlockGC, err := s.PullLock() // no prune takes the blobs meanwhile
	if err != nil {
		return "", err
	}
	defer unlockGC()
	unlock, err := s.lock("tree-" + hexID)
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(dir); err == nil {
		return dir, nil // unpacked by another process while we waited
	}
	// What a crashed unpack of this chain left behind; only this chain's,
	// as others may be unpacking under their own lock.
	olds, _ := filepath.Glob(filepath.Join(s.Dir, "trees", ".tmp-"+hexID+"-*"))
	for _, o := range olds {
		if err := s.removeTree(o); err != nil {
			return "", fmt.Errorf("image %s: remove unfinished unpack %s: %w", img.Ref, o, err)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.Dir, "trees"), ".tmp-"+hexID+"-")
	if err != nil {
		return "", fmt.Errorf("image %s: %w", img.Ref, err)
	}
	ok := false
	defer func() {
		if !ok {
			s.removeTree(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	for i, l := range img.Layers {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if ready != nil {
			if err := ready(i); err != nil {
				return "", err
			}
		}
		if err := s.applyLayer(tmp, img, l); err != nil {
			return "", err
		}
	}
	if err := addMountPoints(tmp); err != nil {
		return "", fmt.Errorf("image %s: %w", img.Ref, err)
	}
	if err := syncDir(tmp, true); err != nil {
		return "", fmt.Errorf("image %s: sync tree: %w", img.Ref, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("image %s: %w", img.Ref, err)
	}
	ok = true
	if err := syncDir(filepath.Dir(dir), false); err != nil {
		return "", fmt.Errorf("image %s: sync trees: %w", img.Ref, err)
	}
	return dir, nil
}

// applyLayer decompresses one stored layer into root through unpack.Apply,
// checking the blob's digest and the uncompressed tar's diff ID.
func (s *Store) applyLayer(root string, img *Image, l Layer) error {
	blob, err := s.OpenLayer(l.Digest)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Ref, err)
	}
	defer blob.Close()
	br := bufio.NewReaderSize(blob, 1<<20)
	// A failure may come from a blob changed on disk (bad gzip, bad tar):
	// read it to its end, which checks its digest, and report that first.
	fail := func(err error) error {
		if _, derr := io.Copy(io.Discard, br); errors.Is(derr, ErrCorrupt) {
			return fmt.Errorf("image %s: %w", img.Ref, derr)
		}
		return err
	}
	tarStream, closeFn, err := decompress(br)
	if err != nil {
		return fail(fmt.Errorf("image %s: layer %s: %w", img.Ref, l.Digest, err))
	}
	defer closeFn()
	hr := &hashingReader{r: tarStream, h: sha256.New()}
	o := unpack.Options{Image: img.Ref, Layer: l.Digest}
	if s.Userns != nil {
		err = unpack.ApplyIn(*s.Userns, root, hr, o)
	} else if s.usernsErr != nil {
		err = fmt.Errorf("image %s: unpack as uid %d: %w", img.Ref, os.Geteuid(), s.usernsErr)
	} else {
		err = unpack.Apply(root, hr, o)
	}
	if err != nil {
		return fail(err)
	}
	// The tar may end before its stream does (padding): read the rest so
	// both digests cover every byte.
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return fail(fmt.Errorf("image %s: layer %s: %w", img.Ref, l.Digest, err))
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fmt.Errorf("image %s: %w", img.Ref, err)
	}
	if got := hr.digest(); l.DiffID != "" && got != l.DiffID {
		return fmt.Errorf("image %s: layer %s: uncompressed content hashes to %s, the image config says %s", img.Ref, l.Digest, got, l.DiffID)
	}
	return nil
}

// Decompressor opens the decompressed stream of a layer that starts with
// its magic bytes, and a function that releases it.
type Decompressor func(r io.Reader) (io.Reader, func(), error)

// decompressors by magic bytes. The gzip and zstd ones are registered by
// image/layerzip, linked into nucleus-image (and tests), not into nucleus:
// klauspost/compress's package init costs every start (issue 15).
var decompressors = map[string]struct {
	name string
	open Decompressor
}{}

// RegisterDecompressor makes layers that start with magic unpackable.
func RegisterDecompressor(name string, magic []byte, open Decompressor) {
	decompressors[string(magic)] = struct {
		name string
		open Decompressor
	}{name, open}
}

// magics of the formats layers come in, known here so that a binary
// without the decompressor says which one it lacks.
var magics = map[string]string{"\x1f\x8b": "gzip", "\x28\xb5\x2f\xfd": "zstd"}

// decompress picks the decompressor by the stream's magic bytes (gzip,
// zstd, or a plain tar), which also covers media types that lie.
func decompress(br *bufio.Reader) (io.Reader, func(), error) {
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	for m, d := range decompressors {
		if bytes.HasPrefix(magic, []byte(m)) {
			z, closeFn, err := d.open(br)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", d.name, err)
			}
			return z, closeFn, nil
		}
	}
	for m, name := range magics {
		if bytes.HasPrefix(magic, []byte(m)) {
			return nil, nil, fmt.Errorf("a %s layer, and this binary has no %s decompressor (nucleus-image has)", name, name)
		}
	}
	return br, func() {}, nil
}

// syncDir flushes dir: with all, the whole file system it is on (every
// file an unpack wrote), else the directory itself (a rename in it).
func syncDir(dir string, all bool) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if all {
		return unix.Syncfs(fd)
	}
	return unix.Fsync(fd)
}

// isTemp says whether a name under trees/ is an unpack under way.
func isTemp(name string) bool { return strings.HasPrefix(name, ".tmp-") }

// mountPoints are what every sandbox mounts on, as Docker's init layer
// holds them: with them in the tree a read-only root is bound as it is,
// without the tmpfs layer the init puts under it to make a missing mount
// point (runtime/sbinit). Files (mode 0644) end in no slash.
var mountPoints = []struct {
	path string
	mode os.FileMode
}{
	{"proc/", 0o555}, {"sys/", 0o555}, {"dev/", 0o755}, {"tmp/", os.ModeSticky | 0o777}, {"run/", 0o755},
	{"etc/", 0o755}, {"etc/hosts", 0o644}, {"etc/resolv.conf", 0o644}, {"etc/hostname", 0o644},
}

// addMountPoints creates the mount points the image lacks in the
// unpacked tree root. Whatever the image has at a path, a symlink
// included, is left as it is; nothing is created under a parent that is
// not a real directory of the tree, so no link leads out of it.
func addMountPoints(root string) error {
	for _, m := range mountPoints {
		rel := strings.TrimSuffix(m.path, "/")
		if parent := filepath.Dir(rel); parent != "." {
			if fi, err := os.Lstat(filepath.Join(root, parent)); err != nil || !fi.IsDir() {
				continue
			}
		}
		p := filepath.Join(root, rel)
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		var err error
		if strings.HasSuffix(m.path, "/") {
			err = os.Mkdir(p, m.mode)
		} else {
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, m.mode); err == nil {
				err = f.Close()
			}
		}
		if err == nil {
			err = os.Chmod(p, m.mode) // past the umask, and for the sticky bit
		}
		if err != nil {
			return fmt.Errorf("add mount point /%s: %w", rel, err)
		}
	}
	return nil
}
