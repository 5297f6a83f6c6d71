// Package unpack applies image layers (tar streams) to a directory with the
// OCI rules, and refuses every entry that would land outside it.
package unpack

import (
	"errors"
	"io"
)

// Options bound and describe one layer's application.
type Options struct {
	// Image and Layer name what is being applied, for errors
	// ("image docker.io/library/nginx:1.27 layer sha256:ab12...: entry
	// etc/passwd: ...").
	Image, Layer string
	// MaxBytes bounds the uncompressed bytes the layer may write (0: the
	// package default), so a decompression bomb fails instead of filling
	// the disk.
	MaxBytes int64
}

// Apply applies one uncompressed layer tar stream to the tree at root,
// which holds the layers before it. (Filled in by the unpack work.)
func Apply(root string, layer io.Reader, o Options) error {
	return errors.New("unpack: not implemented")
}
