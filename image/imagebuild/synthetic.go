package imagebuild

import (
	"bytes"
	"fmt"
	"math/rand/v2"
)

// syntheticSizes are the file sizes a synthetic layer cycles through at
// random: many small files and a few large ones, as real images have.
var syntheticSizes = []int{512, 4 << 10, 64 << 10, 512 << 10, 4 << 20, 16 << 20}

// Synthetic returns `layers` layers of about size bytes in total (file
// contents; tar headers add a little), for pull and unpack benchmarks.
// Files have mixed sizes; about one in ten is compressible text, the rest
// random bytes that gzip cannot shrink. The same seed gives the same
// layers, byte for byte.
func Synthetic(size int64, layers int, seed uint64) ([][]Entry, error) {
	if size <= 0 || layers <= 0 {
		return nil, fmt.Errorf("synthetic image: size %d and layers %d must be positive", size, layers)
	}
	rng := rand.New(rand.NewChaCha8(seedBytes(seed)))
	src := rand.NewChaCha8(seedBytes(seed + 1))
	per := size / int64(layers)
	out := make([][]Entry, layers)
	for l := range out {
		want := per
		if l == layers-1 {
			want = size - per*int64(layers-1)
		}
		dir := fmt.Sprintf("data/%d", l)
		es := []Entry{Dir("data", 0o755), Dir(dir, 0o755)}
		for i := 0; want > 0; i++ {
			n := int64(syntheticSizes[rng.IntN(len(syntheticSizes))])
			n = min(n, want)
			b := make([]byte, n)
			if rng.IntN(10) == 0 {
				line := []byte(fmt.Sprintf("layer %d file %d: compressible text\n", l, i))
				copy(b, bytes.Repeat(line, int(n)/len(line)+1))
			} else {
				_, _ = src.Read(b) // ChaCha8.Read never fails
			}
			es = append(es, Bytes(fmt.Sprintf("%s/f%05d", dir, i), 0o644, b))
			want -= n
		}
		out[l] = es
	}
	return out, nil
}

func seedBytes(s uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(s >> (8 * i))
	}
	return b
}
