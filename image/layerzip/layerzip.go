// Package layerzip registers the gzip and zstd layer decompressors with
// image/store. Import it for its side effect where layers are unpacked
// (nucleus-image, tests): klauspost/compress stays out of the nucleus
// binary, whose every start would pay its package init (issue 15).
package layerzip

import (
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"nucleus/image/store"
)

func init() {
	store.RegisterDecompressor("gzip", []byte{0x1f, 0x8b}, func(r io.Reader) (io.Reader, func(), error) {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, func() { z.Close() }, nil
	})
	store.RegisterDecompressor("zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}, func(r io.Reader) (io.Reader, func(), error) {
		z, err := zstd.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	})
}
