package pull_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"
	"nucleus/image/pull"
)

// BenchmarkPullUnpack pulls and unpacks a synthetic image (5 layers,
// NUCLEUS_BENCH_IMAGE_MB, default 200) from a registry on 127.0.0.1 into a
// fresh store: download then unpack, and unpack while downloading; beside
// them, as the anchor, what `crane pull` + `tar -x` do (ggcr's client
// writes each layer to a file, tar extracts them in order).
func BenchmarkPullUnpack(b *testing.B) {
	mb := int64(200)
	if s := os.Getenv("NUCLEUS_BENCH_IMAGE_MB"); s != "" {
		mb, _ = strconv.ParseInt(s, 10, 64)
	}
	layers, err := imagebuild.Synthetic(mb<<20, 5, 1)
	if err != nil {
		b.Fatal(err)
	}
	img := imagetest.Build(b, imagebuild.Spec{Layers: layers})
	reg := imagetest.Registry(b)
	s := reg.Push(b, "bench/big:1", img)
	rf := parseRef(b, s)
	b.Run("download-then-unpack", func(b *testing.B) {
		for b.Loop() {
			st := openStoreTB(b)
			got, err := pull.Pull(context.Background(), st, rf, pull.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.Tree(context.Background(), got); err != nil {
				b.Fatal(err)
			}
			os.RemoveAll(filepath.Dir(st.Dir))
		}
	})
	b.Run("unpack-while-downloading", func(b *testing.B) {
		for b.Loop() {
			st := openStoreTB(b)
			if _, err := pull.Pull(context.Background(), st, rf, pull.Options{Unpack: true}); err != nil {
				b.Fatal(err)
			}
			os.RemoveAll(filepath.Dir(st.Dir))
		}
	})
	b.Run("ggcr-pull+tar-x", func(b *testing.B) {
		for b.Loop() {
			dir := b.TempDir()
			nr, _ := name.ParseReference(s)
			ri, err := remote.Image(nr)
			if err != nil {
				b.Fatal(err)
			}
			ls, _ := ri.Layers()
			root := filepath.Join(dir, "root")
			os.Mkdir(root, 0o755)
			for i, l := range ls {
				rc, err := l.Compressed()
				if err != nil {
					b.Fatal(err)
				}
				f := filepath.Join(dir, fmt.Sprint(i)+".tar.gz")
				w, _ := os.Create(f)
				if _, err := io.Copy(w, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
				w.Close()
				if out, err := exec.Command("tar", "-xzf", f, "-C", root).CombinedOutput(); err != nil {
					b.Fatalf("tar: %v %s", err, out)
				}
			}
			os.RemoveAll(dir)
		}
	})
}
