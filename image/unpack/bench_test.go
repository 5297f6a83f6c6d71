package unpack

import (
	"archive/tar"
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// benchLayer writes a ~100 MB layer: 20000 small files (0-4 KiB) in 200
// directories, and 6 files of 10 MiB, owned by a non-root user as image
// files often are.
func benchLayer(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "layer.tar")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(w)
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 10<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Uid, h.Gid = mtime, 1000, 1000
		if err := tw.WriteHeader(h); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			b.Fatal(err)
		}
	}
	for d := 0; d < 200; d++ {
		dir := fmt.Sprintf("usr/lib/d%03d/", d)
		add(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755}, nil)
		for i := 0; i < 100; i++ {
			n := rng.IntN(4096)
			add(&tar.Header{Name: fmt.Sprintf("%sf%03d", dir, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(n)}, data[:n])
		}
	}
	add(&tar.Header{Name: "big/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	for i := 0; i < 6; i++ {
		add(&tar.Header{Name: fmt.Sprintf("big/blob%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}, data)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkApply unpacks the same layer with Apply and with GNU tar -x (as
// root tar keeps owners and modes too), alternating in one run (the
// machine's speed drifts): it reports nucleus-ns/op, tar-ns/op and their
// ratio. Removing each tree is outside the timing.
func BenchmarkApply(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to keep owners")
	}
	src := benchLayer(b)
	st, err := os.Stat(src)
	if err != nil {
		b.Fatal(err)
	}
	nucleus := func(dst string) error {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		return Apply(dst, f, Options{Image: "bench", Layer: "sha256:bench"})
	}
	gnuTar := func(dst string) error {
		if out, err := exec.Command("tar", "-xf", src, "-C", dst).CombinedOutput(); err != nil {
			return fmt.Errorf("tar: %v: %s", err, out)
		}
		return nil
	}
	base := b.TempDir()
	timed := func(extract func(string) error) time.Duration {
		dst := filepath.Join(base, "t")
		if err := os.Mkdir(dst, 0o755); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := extract(dst); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		if err := os.RemoveAll(dst); err != nil {
			b.Fatal(err)
		}
		return d
	}
	var ours, theirs time.Duration
	n := 0
	b.SetBytes(st.Size())
	for b.Loop() {
		if n%2 == 0 {
			ours += timed(nucleus)
			theirs += timed(gnuTar)
		} else {
			theirs += timed(gnuTar)
			ours += timed(nucleus)
		}
		n++
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(n), "nucleus-ns/op")
	b.ReportMetric(float64(theirs.Nanoseconds())/float64(n), "tar-ns/op")
	b.ReportMetric(float64(ours)/float64(theirs), "nucleus/tar")
}
