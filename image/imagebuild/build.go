package imagebuild

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Format picks the media types of manifest, config, layers and index.
type Format int

const (
	OCI    Format = iota // application/vnd.oci.image.*
	Docker               // application/vnd.docker.distribution.manifest.v2+json etc.
)

// Spec describes an image: its layers (bottom first) and its config.
type Spec struct {
	Format Format
	// Uncompressed writes layers as plain tar (…tar / …rootfs.diff.tar);
	// by default they are gzip-compressed.
	Uncompressed bool
	// Platform defaults to linux and the host's architecture.
	Platform v1.Platform
	// Config is the image config (Entrypoint, Cmd, Env, WorkingDir, User,
	// StopSignal, Healthcheck, ExposedPorts, Labels ...).
	Config v1.Config
	Layers [][]Entry
}

// Build makes the image Spec describes. Layers are compressed once, in
// memory, so their digests and bytes stay the same on every read.
func Build(s Spec) (v1.Image, error) {
	img := empty.Image
	if s.Format == Docker {
		img = mutate.MediaType(img, types.DockerManifestSchema2)
		img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	} else {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	for i, entries := range s.Layers {
		l, err := Layer(entries, s.Format, !s.Uncompressed)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config = s.Config
	cf.OS, cf.Architecture, cf.Variant = "linux", runtime.GOARCH, ""
	if s.Platform.OS != "" {
		cf.OS = s.Platform.OS
	}
	if s.Platform.Architecture != "" {
		cf.Architecture, cf.Variant = s.Platform.Architecture, s.Platform.Variant
	}
	cf.Created = v1.Time{Time: Epoch}
	return mutate.ConfigFile(img, cf)
}

// Layer makes one layer of entries with the media type of format, gzip
// compressed or not.
func Layer(entries []Entry, format Format, compressed bool) (v1.Layer, error) {
	b, err := Tar(entries)
	if err != nil {
		return nil, err
	}
	return LayerFromTar(b, format, compressed)
}

// LayerFromTar is Layer for a tar stream already made.
func LayerFromTar(b []byte, format Format, compressed bool) (v1.Layer, error) {
	if !compressed {
		mt := types.OCIUncompressedLayer
		if format == Docker {
			mt = types.DockerUncompressedLayer
		}
		return static.NewLayer(b, mt), nil
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	mt := types.OCILayer
	if format == Docker {
		mt = types.DockerLayer
	}
	z := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(z)), nil
	}, tarball.WithMediaType(mt))
}

// Index makes a multi-platform index (an OCI index, or a Docker manifest
// list for Docker) of imgs; each manifest's platform is read from its
// image's config.
func Index(format Format, imgs ...v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	if format == Docker {
		idx = mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	}
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		p := cf.Platform()
		if p == nil {
			return nil, fmt.Errorf("image without platform in its config")
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: p}})
	}
	return idx, nil
}

// HostPlatform is linux and the architecture this program runs on, the one
// Build gives an image by default.
func HostPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}
