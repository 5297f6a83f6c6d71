// Package imagebuild builds OCI and Docker images in memory, layer by
// layer, without a network or a container engine: the test images of
// image/imagetest and the images scripts/mkimage writes (examples/image,
// the pull benchmark) come from here.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"time"
)

// Epoch is the modification time of every entry a constructor makes, so the
// same entries always give the same layer digest.
var Epoch = time.Unix(0, 0).UTC()

// Entry is one tar entry of a layer. Names are written exactly as given
// (never cleaned), so a test can make "../x", "/abs" or "link/through".
type Entry struct {
	Header tar.Header
	Body   []byte
}

// Owner returns e owned by uid:gid.
func (e Entry) Owner(uid, gid int) Entry {
	e.Header.Uid, e.Header.Gid = uid, gid
	return e
}

// Xattr returns e with the extended attribute key (e.g. "user.note") set,
// written as a PAX record.
func (e Entry) Xattr(key, value string) Entry {
	recs := map[string]string{}
	for k, v := range e.Header.PAXRecords {
		recs[k] = v
	}
	recs["SCHILY.xattr."+key] = value
	e.Header.PAXRecords = recs
	e.Header.Format = tar.FormatPAX
	return e
}

// File is a regular file with mode perm (e.g. 0o644, 0o4755) and content.
func File(name string, perm int64, content string) Entry {
	return Entry{Header: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: perm,
		Size: int64(len(content)), ModTime: Epoch}, Body: []byte(content)}
}

// Bytes is File with binary content.
func Bytes(name string, perm int64, content []byte) Entry {
	return Entry{Header: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: perm,
		Size: int64(len(content)), ModTime: Epoch}, Body: content}
}

// Dir is a directory with mode perm.
func Dir(name string, perm int64) Entry {
	return Entry{Header: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: perm, ModTime: Epoch}}
}

// Symlink is name -> target (target is not checked or cleaned).
func Symlink(name, target string) Entry {
	return Entry{Header: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target,
		Mode: 0o777, ModTime: Epoch}}
}

// Hardlink makes name a hard link to target, a path earlier in the image.
func Hardlink(name, target string) Entry {
	return Entry{Header: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target,
		Mode: 0o644, ModTime: Epoch}}
}

// Whiteout deletes p (a file or a whole directory) of the layers below:
// the entry "dir/.wh.base".
func Whiteout(p string) Entry {
	dir, base := path.Split(p)
	return Entry{Header: tar.Header{Typeflag: tar.TypeReg, Name: dir + ".wh." + base,
		Mode: 0o644, ModTime: Epoch}}
}

// Opaque hides everything the layers below have in dir (dir keeps what
// this layer puts there): the entry "dir/.wh..wh..opq".
func Opaque(dir string) Entry {
	return Entry{Header: tar.Header{Typeflag: tar.TypeReg, Name: path.Join(dir, ".wh..wh..opq"),
		Mode: 0o644, ModTime: Epoch}}
}

// Raw is an entry with any header (devices, fifos, odd type flags, names
// and link names with escapes); body is written when the type has one.
// Size is set from body for regular files.
func Raw(h tar.Header, body []byte) Entry {
	if h.Typeflag == tar.TypeReg {
		h.Size = int64(len(body))
	}
	return Entry{Header: h, Body: body}
}

// Tar returns the uncompressed tar stream of entries, in order.
func Tar(entries []Entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.Header
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("tar entry %q: %w", h.Name, err)
		}
		if len(e.Body) > 0 {
			if _, err := tw.Write(e.Body); err != nil {
				return nil, fmt.Errorf("tar entry %q: %w", h.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadTar reads an uncompressed tar stream back into entries (for tests
// and tools that check what a layer or a flattened image holds).
func ReadTar(r io.Reader) ([]Entry, error) {
	var es []Entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return es, nil
		}
		if err != nil {
			return es, err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return es, fmt.Errorf("tar entry %q: %w", h.Name, err)
		}
		es = append(es, Entry{Header: *h, Body: b})
	}
}
