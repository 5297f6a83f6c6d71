package pull_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"nucleus/image/imagetest"
	"nucleus/image/ref"
	"nucleus/image/store"
)

func parseRef(t testing.TB, s string) ref.Ref {
	t.Helper()
	rf, err := ref.Parse(s, "")
	if err != nil {
		t.Fatal(err)
	}
	return rf
}

// push uploads img to reg as repoTag, zeroes the counters and returns the
// parsed reference.
func push(t *testing.T, reg *imagetest.Reg, repoTag string, img any) ref.Ref {
	t.Helper()
	rf := parseRef(t, reg.Push(t, repoTag, img))
	reg.Reset()
	return rf
}

// blobs is the config and layer digests of img.
func blobs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	out := []v1.Hash{cfg}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// blobGets counts the GETs of img's blobs.
func blobGets(t *testing.T, reg *imagetest.Reg, img v1.Image) int {
	n := 0
	for _, h := range blobs(t, img) {
		n += reg.BlobGets(h)
	}
	return n
}

// randomImage is a random image of n gzip layers of about size bytes each.
func randomImage(t *testing.T, size, n int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, n)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func openStore(t *testing.T) *store.Store { return openStoreTB(t) }

func openStoreTB(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// assertNoTemps fails when the store holds a partial download or an
// unfinished unpack.
func assertNoTemps(t *testing.T, st *store.Store) {
	t.Helper()
	filepath.Walk(st.Dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && (strings.HasSuffix(p, ".partial") || strings.HasPrefix(info.Name(), ".tmp-")) {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

// oneLayerImage serves a random image of one layer of about size bytes as
// repoTag and opens an empty store.
func oneLayerImage(t *testing.T, repoTag string, size int64) (*imagetest.Reg, *store.Store, ref.Ref, v1.Layer) {
	t.Helper()
	reg := imagetest.Registry(t)
	img := randomImage(t, size, 1)
	rf := push(t, reg, repoTag, img)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return reg, openStore(t), rf, layers[0]
}
