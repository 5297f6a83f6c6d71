package imagebuild

import (
	"bytes"
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
