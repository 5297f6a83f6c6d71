package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"
	"nucleus/image/pull"
	"nucleus/image/ref"
	"nucleus/image/store"
)

// pullLayout writes imgs into an OCI layout under their tags and pulls
// each into a fresh store.
func pullLayout(t *testing.T, imgs map[string]v1.Image) (*store.Store, map[string]*store.Image) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := map[string]*store.Image{}
	for tag, img := range imgs {
		imagetest.WriteLayout(t, dir, img, tag)
	}
	for tag := range imgs {
		rf, err := ref.Parse("oci:"+dir+":"+tag, "")
		if err != nil {
			t.Fatal(err)
		}
		if out[tag], err = pull.Pull(context.Background(), st, rf, pull.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	return st, out
}

// leftovers lists temporary files and directories in the store.
func leftovers(st *store.Store) []string {
	var out []string
	filepath.Walk(st.Dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && (strings.HasSuffix(p, ".partial") || strings.HasPrefix(info.Name(), ".tmp-")) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestTreeUnpacksOnceSharedByChainAndCleansCrashedUnpack(t *testing.T) {
	base := imagetest.Busybox(t, []imagebuild.Entry{imagebuild.File("etc/motd", 0o644, "hello\n")})
	other, err := mutate.Config(base, v1.Config{Env: []string{"OTHER=1"}})
	if err != nil {
		t.Fatal(err)
	}
	st, imgs := pullLayout(t, map[string]v1.Image{"a": base, "b": other})
	a, b := imgs["a"], imgs["b"]
	if a.Config == b.Config || a.ChainID != b.ChainID {
		t.Fatalf("test images: configs %s %s, chains %s %s; want different configs, one chain", a.Config, b.Config, a.ChainID, b.ChainID)
	}
	want, _ := st.TreePath(a)
	// What a crash in the middle of an earlier unpack leaves.
	crashed := filepath.Join(filepath.Dir(want), ".tmp-"+filepath.Base(want)+"-crashed")
	if err := os.MkdirAll(filepath.Join(crashed, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	dirs, errs := make([]string, 2), make([]error, 2)
	for i, img := range []*store.Image{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = st.Tree(context.Background(), img)
		}()
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil {
			t.Fatalf("Tree %d: %v", i, errs[i])
		}
		if dirs[i] != want {
			t.Errorf("Tree %d = %s, want the chain's tree %s", i, dirs[i], want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(want, "etc/motd")); err != nil || string(b) != "hello\n" {
		t.Errorf("etc/motd in the tree: %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(want, "bin/busybox")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("bin/busybox in the tree: %v, %v", fi, err)
	}
	if l := leftovers(st); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

func TestTreeRefusesLayerChangedOnDisk(t *testing.T) {
	st, imgs := pullLayout(t, map[string]v1.Image{"a": imagetest.Busybox(t)})
	img := imgs["a"]
	layer := img.Layers[0].Digest
	p, _ := st.BlobPath(layer)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-100] ^= 0x55
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	dir, err := st.Tree(context.Background(), img)
	if err == nil {
		t.Fatalf("Tree with a changed layer: %s, want an error", dir)
	}
	if !strings.Contains(err.Error(), layer) || !strings.Contains(err.Error(), img.Ref) {
		t.Errorf("error %q should name the image %s and layer %s", err, img.Ref, layer)
	}
	if st.HasBlob(layer) {
		t.Error("the changed layer is still in the store")
	}
	tree, _ := st.TreePath(img)
	if _, err := os.Stat(tree); err == nil {
		t.Error("a tree was made from the changed layer")
	}
	if l := leftovers(st); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

func randomImage(t *testing.T) v1.Image {
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPruneKeepsUsedAndLeasedRemovesTheRest(t *testing.T) {
	st, imgs := pullLayout(t, map[string]v1.Image{
		"used": randomImage(t), "leased": randomImage(t), "idle": randomImage(t), "dead": randomImage(t)})
	trees := map[string]string{}
	for tag, img := range imgs {
		d, err := st.Tree(context.Background(), img)
		if err != nil {
			t.Fatalf("Tree %s: %v", tag, err)
		}
		trees[tag] = d
	}
	if err := st.SetUses("proj", []string{imgs["used"].Ref}); err != nil {
		t.Fatal(err)
	}
	// The runtime's shifted copies (where idmapped mounts are refused)
	// live and go with their trees.
	for _, tag := range []string{"leased", "idle"} {
		if err := os.Mkdir(trees[tag]+".shift-100000", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Lease(trees["leased"], "sandbox-live"); err != nil {
		t.Fatal(err)
	}
	if err := st.Lease(trees["dead"], "sandbox-gone"); err != nil {
		t.Fatal(err)
	}
	alive := func(h string) bool { return h == "sandbox-live" }

	list, err := st.List()
	if err != nil || len(list) != 4 {
		t.Fatalf("List: %d images, %v", len(list), err)
	}
	for _, im := range list {
		if im.Ref == imgs["used"].Ref && (len(im.Users) != 1 || im.Users[0] != "proj") {
			t.Errorf("List: users of %s = %v, want [proj]", im.Ref, im.Users)
		}
	}

	sum, err := st.Prune(false, alive)
	if err != nil {
		t.Fatal(err)
	}
	present := func() map[string]bool {
		m := map[string]bool{}
		for tag, img := range imgs {
			_, err := st.Lookup(img.Ref)
			_, terr := os.Stat(trees[tag])
			m[tag] = err == nil
			if (err == nil) != (terr == nil) {
				t.Errorf("%s: record present %v, tree present %v", tag, err == nil, terr == nil)
			}
			for _, l := range img.Layers {
				if st.HasBlob(l.Digest) != (err == nil) {
					t.Errorf("%s: layer %s present %v, record %v", tag, l.Digest, st.HasBlob(l.Digest), err == nil)
				}
			}
		}
		return m
	}
	if p := present(); !p["used"] || !p["leased"] || p["idle"] || p["dead"] {
		t.Errorf("after prune: present %v, want used and leased only", p)
	}
	if _, err := os.Stat(trees["leased"] + ".shift-100000"); err != nil {
		t.Errorf("prune removed the shifted copy of a leased tree: %v", err)
	}
	if _, err := os.Stat(trees["idle"] + ".shift-100000"); err == nil {
		t.Error("prune kept the shifted copy of a removed tree")
	}
	if len(sum.Images) != 2 || sum.Trees != 2 || sum.Blobs != 2*4 {
		t.Errorf("prune summary %+v, want 2 images, 2 trees, 8 blobs", sum)
	}

	// -a: every image, but not the leased one.
	if _, err := st.Prune(true, alive); err != nil {
		t.Fatal(err)
	}
	if p := present(); p["used"] || !p["leased"] {
		t.Errorf("after prune -a: present %v, want leased only", p)
	}
	// A lease writer killed before its rename left its temp file: once
	// stale it does not keep the lease directory forever.
	tmp := filepath.Join(st.Dir, "leases", filepath.Base(trees["leased"]), ".tmp-killed")
	if err := os.WriteFile(tmp, []byte("sandbox-killed"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(tmp, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Prune(true, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"refs", "trees", "blobs/sha256", "leases"} {
		ents, _ := os.ReadDir(filepath.Join(st.Dir, sub))
		if len(ents) != 0 {
			t.Errorf("%s after pruning everything: %d entries", sub, len(ents))
		}
	}
	locks, _ := os.ReadDir(filepath.Join(st.Dir, "locks"))
	for _, l := range locks {
		if l.Name() != "store.lock" && l.Name() != "gc.lock" {
			t.Errorf("lock file %s left after pruning everything", l.Name())
		}
	}
}

func TestRemoveRefusesAnImageInUseUnlessForced(t *testing.T) {
	st, imgs := pullLayout(t, map[string]v1.Image{"a": randomImage(t)})
	img := imgs["a"]
	tree, err := st.Tree(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetUses("web", []string{img.Ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Remove(img.Ref, false); err == nil || !strings.Contains(err.Error(), "used by project web") {
		t.Errorf("Remove of a used image: %v, want refused naming project web", err)
	}
	if err := st.Lease(tree, "sb1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Remove(img.Ref, true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Lookup(img.Ref); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lookup after forced Remove: %v", err)
	}
	if _, err := os.Stat(tree); err != nil {
		t.Errorf("forced Remove took a leased tree: %v", err)
	}
	if err := st.Release(tree, "sb1"); err != nil {
		t.Fatal(err)
	}
	if err := st.DropUses("web"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Prune(false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tree); err == nil {
		t.Error("released tree of a removed image survived prune")
	}
	if _, err := st.Remove(img.Ref, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Remove: %v, want ErrNotFound", err)
	}
}

// The tree gets the mount points every sandbox needs (Docker's init
// layer), so a read-only root is bound directly; what the image has at
// those paths, symlinks included, is kept, and nothing is made through a
// link.
func TestTreeHasMountPointsAndKeepsTheImages(t *testing.T) {
	hostDir := t.TempDir()
	bare := imagetest.Build(t, imagebuild.Spec{Layers: [][]imagebuild.Entry{{imagebuild.File("bin/app", 0o755, "x")}}})
	own := imagetest.Build(t, imagebuild.Spec{Layers: [][]imagebuild.Entry{{
		imagebuild.File("etc/hosts", 0o600, "10.0.0.1 mine\n"),
		imagebuild.Symlink("etc/resolv.conf", "../run/resolv.conf"),
		imagebuild.Symlink("run", hostDir),
	}}})
	linked := imagetest.Build(t, imagebuild.Spec{Layers: [][]imagebuild.Entry{{imagebuild.Symlink("etc", hostDir)}}})
	st, imgs := pullLayout(t, map[string]v1.Image{"bare": bare, "own": own, "linked": linked})
	tree := func(tag string) string {
		d, err := st.Tree(context.Background(), imgs[tag])
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := tree("bare")
	for p, want := range map[string]os.FileMode{
		"proc": os.ModeDir | 0o555, "sys": os.ModeDir | 0o555, "dev": os.ModeDir | 0o755,
		"tmp": os.ModeDir | os.ModeSticky | 0o777, "run": os.ModeDir | 0o755, "etc": os.ModeDir | 0o755,
		"etc/hosts": 0o644, "etc/resolv.conf": 0o644, "etc/hostname": 0o644,
	} {
		fi, err := os.Lstat(filepath.Join(d, p))
		if err != nil {
			t.Errorf("bare image: no /%s in the tree: %v", p, err)
		} else if fi.Mode() != want {
			t.Errorf("bare image: /%s %v, want %v", p, fi.Mode(), want)
		}
	}
	d = tree("own")
	if b, _ := os.ReadFile(filepath.Join(d, "etc/hosts")); string(b) != "10.0.0.1 mine\n" {
		t.Errorf("the image's /etc/hosts became %q", b)
	}
	for _, p := range []string{"etc/resolv.conf", "run"} {
		if fi, err := os.Lstat(filepath.Join(d, p)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the image's symlink /%s was replaced (%v)", p, err)
		}
	}
	tree("linked")
	if ents, _ := os.ReadDir(hostDir); len(ents) != 0 {
		t.Errorf("mount points made through the image's symlinks, outside the tree: %v", ents)
	}
}
