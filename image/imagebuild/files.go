package imagebuild

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// RefNameAnnotation names an image in an OCI layout's index.json: what
// the tag of `oci:dir:tag` matches.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes img (a v1.Image or v1.ImageIndex) into the OCI image
// layout at dir (created, or appended to when it is one already), its
// index entry annotated with RefNameAnnotation=tag.
func WriteLayout(dir string, img any, tag string) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("OCI layout %s: %w", dir, err)
		}
	}
	opt := layout.WithAnnotations(map[string]string{RefNameAnnotation: tag})
	switch v := img.(type) {
	case v1.Image:
		err = p.AppendImage(v, opt)
	case v1.ImageIndex:
		err = p.AppendIndex(v, opt)
	default:
		return fmt.Errorf("OCI layout %s: %T is neither an image nor an index", dir, img)
	}
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return readableLayout(dir)
}

// readableLayout makes every file of the layout at dir 0644: the library
// streams layer blobs through temporary files (0600) and writes index.json
// 0755, so a layout built by root (make in examples/image) could not be
// read by the user who then ran `nucleus up` on it ("open .../blobs/
// sha256/...: permission denied"). Config and manifest blobs were 0644.
func readableLayout(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if err := os.Chmod(p, 0o644); err != nil {
			return fmt.Errorf("OCI layout %s: %w", dir, err)
		}
		return nil
	})
}

// WriteArchive writes img as a `docker save` tarball at file, tagged tag
// (e.g. "busybox:1").
func WriteArchive(file string, img v1.Image, tag string) error {
	tg, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("docker archive tag %q: %w", tag, err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := tarball.WriteToFile(file, tg, img); err != nil {
		return fmt.Errorf("docker archive %s: %w", file, err)
	}
	return nil
}

// FromHost returns entries that put the host file or directory tree src at
// dst in the image (dst relative, e.g. "srv/site"), keeping modes and
// symlinks; owners are root. Parent directories of dst are not added.
func FromHost(src, dst string) ([]Entry, error) {
	var es []Entry
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(dst, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := int64(info.Mode().Perm())
		switch {
		case d.IsDir():
			es = append(es, Dir(name, perm))
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			es = append(es, Symlink(name, target))
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			es = append(es, Bytes(name, perm, b))
		default:
			return fmt.Errorf("%s: not a file, directory or symlink", p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copying %s into the image: %w", src, err)
	}
	return es, nil
}
