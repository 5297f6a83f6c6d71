package imagebuild

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Names are written as given, escapes included: path-escape tests need them.
func TestTarKeepsNames(t *testing.T) {
	b, err := Tar([]Entry{
		File("../x", 0o644, "up"),
		File("/abs", 0o644, "abs"),
		Symlink("evil", "/etc"),
		File("evil/passwd", 0o644, "through"),
		Whiteout("a/b"),
		Whiteout("top"),
		Opaque("d"),
		Hardlink("h", "../x"),
		File("x", 0o4755, "suid").Owner(999, 998).Xattr("user.k", "v"),
	})
	if err != nil {
		t.Fatal(err)
	}
	es, err := ReadTar(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		h := e.Header
		got = append(got, h.Name+">"+h.Linkname)
		if h.Name == "x" && (h.Uid != 999 || h.Gid != 998 || h.Mode != 0o4755 || h.PAXRecords["SCHILY.xattr.user.k"] != "v") {
			t.Errorf("x: uid %d gid %d mode %o xattrs %v", h.Uid, h.Gid, h.Mode, h.PAXRecords)
		}
	}
	want := []string{"../x>", "/abs>", "evil>/etc", "evil/passwd>", "a/.wh.b>", ".wh.top>", "d/.wh..wh..opq>", "h>../x", "x>"}
	if len(got) != len(want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestBuildMediaTypesAndDeterminism(t *testing.T) {
	layers := [][]Entry{{Dir("etc", 0o755), File("etc/hi", 0o644, "hi\n")}}
	for _, c := range []struct {
		s            Spec
		manifest, lt types.MediaType
	}{
		{Spec{Format: OCI}, types.OCIManifestSchema1, types.OCILayer},
		{Spec{Format: OCI, Uncompressed: true}, types.OCIManifestSchema1, types.OCIUncompressedLayer},
		{Spec{Format: Docker}, types.DockerManifestSchema2, types.DockerLayer},
		{Spec{Format: Docker, Uncompressed: true}, types.DockerManifestSchema2, types.DockerUncompressedLayer},
	} {
		c.s.Layers = layers
		a, err := Build(c.s)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Build(c.s)
		da, _ := a.Digest()
		db, _ := b.Digest()
		if da != db {
			t.Errorf("%+v: two builds differ: %s %s", c.s, da, db)
		}
		mt, _ := a.MediaType()
		ls, _ := a.Layers()
		lt, _ := ls[0].MediaType()
		if mt != c.manifest || lt != c.lt {
			t.Errorf("format %d uncompressed %v: manifest %s layer %s, want %s %s", c.s.Format, c.s.Uncompressed, mt, lt, c.manifest, c.lt)
		}
	}
}

func TestSynthetic(t *testing.T) {
	const size = 3<<20 + 17
	a, err := Synthetic(size, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Synthetic(size, 3, 7)
	c, _ := Synthetic(size, 3, 8)
	ta, tb, tc := tarOf(t, a), tarOf(t, b), tarOf(t, c)
	if len(a) != 3 || !bytes.Equal(ta, tb) || bytes.Equal(ta, tc) {
		t.Fatalf("%d layers; same seed equal %v, other seed equal %v: want 3, true, false", len(a), bytes.Equal(ta, tb), bytes.Equal(ta, tc))
	}
	var total int64
	sizes := map[int64]bool{}
	for _, es := range a {
		for _, e := range es {
			total += int64(len(e.Body))
			sizes[int64(len(e.Body))] = true
		}
	}
	if total != size || len(sizes) < 3 {
		t.Errorf("content %d bytes in %d distinct file sizes, want %d in several", total, len(sizes), size)
	}
	// Mostly incompressible: gzip keeps most of it.
	l, err := LayerFromTar(ta, OCI, true)
	if err != nil {
		t.Fatal(err)
	}
	if z, _ := l.Size(); z < int64(len(ta))/2 {
		t.Errorf("gzip shrank %d bytes to %d: want mostly incompressible data", len(ta), z)
	}
}

func tarOf(t *testing.T, layers [][]Entry) []byte {
	t.Helper()
	var all []byte
	for _, es := range layers {
		b, err := Tar(es)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// TestWriteLayoutIsReadable: every file of a written OCI layout is 0644, so
// a layout made by one user (root, with make) can be read by another (the
// rootless user who runs `nucleus up` on it): layer blobs were 0600 and
// index.json 0755.
func TestWriteLayoutIsReadable(t *testing.T) {
	img, err := Build(Spec{Format: OCI, Layers: [][]Entry{{Dir("etc", 0o755), File("etc/hi", 0o644, "hi\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := WriteLayout(dir, img, "1"); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := d.Info(); d.Type().IsRegular() {
			n++
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("%s: mode %04o, want 0644", p, fi.Mode().Perm())
			}
		}
		return nil
	})
	if n < 5 { // oci-layout, index.json, manifest, config, layer
		t.Errorf("layout has %d files, want at least 5", n)
	}
}
