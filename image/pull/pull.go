// Package pull brings images into the store (image/store) from a registry,
// an OCI layout directory (oci:) or a `docker save` archive
// (docker-archive:), using go-containerregistry for the protocol and the
// formats. Blobs already in the store are not transferred again; registry
// blobs are fetched here (not through ggcr's remote API) so that an
// interrupted download resumes with a Range request.
package pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	_ "nucleus/image/layerzip" // layers are unpacked here (Options.Unpack)
	"nucleus/image/pullapi"
	"nucleus/image/ref"
	"nucleus/image/store"
)

// Phase and Event are pullapi's: nucleus shows the events of a pull in
// nucleus-image without linking this package.
type (
	Phase = pullapi.Phase
	Event = pullapi.Event
)

// Phases, in the order a pull goes through them.
const (
	Resolving   = pullapi.Resolving
	Resolved    = pullapi.Resolved
	Cached      = pullapi.Cached
	Downloading = pullapi.Downloading
	Verified    = pullapi.Verified
	Unpacking   = pullapi.Unpacking
	Done        = pullapi.Done
)

// Options tune a pull.
type Options struct {
	// Progress gets events (from several goroutines, one at a time).
	Progress func(Event)
	// Platform chosen from an index, "os/arch[/variant]"; default the
	// host's, linux/GOARCH.
	Platform string
	// Unpack also unpacks the image's tree, applying each layer as soon
	// as it (and those before it) are stored.
	Unpack bool
	// Transport is the HTTP transport under the registry client
	// (default http.DefaultTransport); plain HTTP to a host that is not
	// loopback is refused above it whatever it is.
	Transport http.RoundTripper
	// Keychain supplies registry credentials (default
	// authn.DefaultKeychain: the Docker config file and its helpers).
	Keychain authn.Keychain
}

// blobSrc is one blob to bring into the store.
type blobSrc struct {
	digest    string
	size      int64 // -1: unknown until stored (docker-archive layers)
	mediaType string
	fetch     store.Fetch
}

// source is what a transport resolved a reference to.
type source struct {
	// manifest is the image manifest, nil when it is made after the
	// layers are stored (docker-archive).
	manifest []byte
	config   blobSrc
	layers   []blobSrc
	closer   func()
}

const parallelDownloads = 4

// Pull resolves r, stores its manifest, config and layers (those not
// present yet) and records it under r.String().
func Pull(ctx context.Context, st *store.Store, r ref.Ref, o Options) (*store.Image, error) {
	if o.Platform == "" {
		o.Platform = "linux/" + runtime.GOARCH
	}
	var mu sync.Mutex
	emit := func(e Event) {
		if o.Progress != nil {
			e.Ref = r.String()
			mu.Lock()
			o.Progress(e)
			mu.Unlock()
		}
	}
	emit(Event{Phase: Resolving})
	var src *source
	var err error
	switch r.Transport {
	case ref.Registry:
		src, err = resolveRegistry(ctx, r, o)
	case ref.OCILayout:
		src, err = resolveLayout(r, o)
	case ref.DockerArchive:
		src, err = resolveArchive(r)
	default:
		err = fmt.Errorf("image %s: unknown transport %q", r, r.Transport)
	}
	if err != nil {
		return nil, err
	}
	if src.closer != nil {
		defer src.closer()
	}
	unlock, err := st.PullLock()
	if err != nil {
		return nil, err
	}
	defer unlock()

	what := r.String()
	var cfgBytes []byte
	for try := 0; ; try++ {
		if _, err := st.WriteBlob(ctx, what, src.config.digest, src.config.size, src.config.fetch, nil); err != nil {
			return nil, err
		}
		cfgBytes, err = st.ReadBlob(src.config.digest)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrCorrupt) || try > 0 {
			return nil, fmt.Errorf("image %s: %w", what, err)
		} // removed from the store: fetch it again
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(cfgBytes)))
	if err != nil {
		return nil, fmt.Errorf("image %s: config %s: %w", what, src.config.digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(src.layers) {
		return nil, fmt.Errorf("image %s: the manifest has %d layers, the config %d diff IDs", what, len(src.layers), len(cfg.RootFS.DiffIDs))
	}
	img := &store.Image{Ref: what, Config: src.config.digest, Platform: platformOf(cfg), Pulled: time.Now().UTC()}
	diffIDs := make([]string, len(src.layers))
	for i, l := range src.layers {
		diffIDs[i] = cfg.RootFS.DiffIDs[i].String()
		img.Layers = append(img.Layers, store.Layer{Digest: l.digest, DiffID: diffIDs[i], Size: l.size, MediaType: l.mediaType})
	}
	img.ChainID = store.ChainID(diffIDs)
	total := int64(0)
	for _, l := range src.layers {
		if l.size < 0 {
			total = -1
			break
		}
		total += l.size
	}
	emit(Event{Phase: Resolved, Layers: len(src.layers), Total: total})

	// Layers download in parallel, the earlier ones first; with Unpack
	// the tree is built alongside, each layer once it is stored.
	stored := make([]chan struct{}, len(src.layers))
	for i := range stored {
		stored[i] = make(chan struct{})
	}
	g, gctx := errgroup.WithContext(ctx)
	if o.Unpack {
		g.Go(func() error {
			_, err := st.TreeWhile(gctx, img, func(i int) error {
				select {
				case <-stored[i]:
				case <-gctx.Done():
					return gctx.Err()
				}
				emit(Event{Layer: img.Layers[i].Digest, Phase: Unpacking})
				return nil
			})
			return err
		})
	}
	sem := make(chan struct{}, parallelDownloads)
	for i, l := range src.layers {
		select {
		case sem <- struct{}{}:
		case <-gctx.Done():
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			defer func() { <-sem }()
			got, err := st.WriteBlob(gctx, what, l.digest, l.size, l.fetch, func(done int64) {
				emit(Event{Layer: l.digest, Done: done, Total: l.size, Phase: Downloading})
			})
			if err != nil {
				return err
			}
			if got {
				emit(Event{Layer: l.digest, Total: l.size, Phase: Verified})
			} else {
				emit(Event{Layer: l.digest, Total: l.size, Phase: Cached})
			}
			if l.size < 0 {
				p, _ := st.BlobPath(l.digest)
				fi, err := os.Stat(p)
				if err != nil {
					return fmt.Errorf("image %s: %w", what, err)
				}
				img.Layers[i].Size = fi.Size()
			}
			close(stored[i])
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	manifest := src.manifest
	if manifest == nil {
		if manifest, err = synthManifest(src.config, img.Layers); err != nil {
			return nil, fmt.Errorf("image %s: %w", what, err)
		}
	}
	img.Manifest = "sha256:" + sha256Hex(manifest)
	if err := st.PutBlob(what, img.Manifest, manifest); err != nil {
		return nil, err
	}
	img.Size = int64(len(manifest)) + int64(len(cfgBytes))
	for _, l := range img.Layers {
		img.Size += l.Size
	}
	if err := st.Record(img); err != nil {
		return nil, err
	}
	emit(Event{Phase: Done, Total: img.Size})
	return img, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func platformOf(c *v1.ConfigFile) string {
	p := c.OS + "/" + c.Architecture
	if c.Variant != "" {
		p += "/" + c.Variant
	}
	return p
}

// fromManifest turns an image manifest into the blobs to fetch.
func fromManifest(what string, b []byte, mt types.MediaType, open func(d v1.Descriptor) store.Fetch) (*source, error) {
	if mt.IsSchema1() {
		return nil, fmt.Errorf("image %s: Docker schema 1 manifests are not supported (push the image again with a current client)", what)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", what, err)
	}
	src := &source{manifest: b, config: blobSrc{digest: m.Config.Digest.String(), size: m.Config.Size, mediaType: string(m.Config.MediaType), fetch: open(m.Config)}}
	for _, l := range m.Layers {
		src.layers = append(src.layers, blobSrc{digest: l.Digest.String(), size: l.Size, mediaType: string(l.MediaType), fetch: open(l)})
	}
	return src, nil
}

// choosePlatform picks the manifest for platform ("os/arch[/variant]")
// from an index, naming the platforms offered when none fits.
func choosePlatform(what string, idx *v1.IndexManifest, platform string) (v1.Descriptor, error) {
	parts := strings.SplitN(platform, "/", 3)
	var offered []string
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			continue
		}
		p := d.Platform
		name := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			name += "/" + p.Variant
		}
		if p.OS == "unknown" { // attestations, not images
			continue
		}
		offered = append(offered, name)
		if p.OS == parts[0] && len(parts) > 1 && p.Architecture == parts[1] && (len(parts) < 3 || p.Variant == parts[2]) {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("image %s has no %s image; it offers %s", what, platform, orNone(offered))
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// synthManifest writes the OCI manifest of an image read from a
// docker-archive, whose layers are stored as their uncompressed tars.
func synthManifest(cfg blobSrc, layers []store.Layer) ([]byte, error) {
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: cfg.size, Digest: mustHash(cfg.digest)},
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Size: l.Size, Digest: mustHash(l.Digest)})
	}
	return json.Marshal(m)
}

func mustHash(s string) v1.Hash {
	h, _ := v1.NewHash(s)
	return h
}

// readerAt opens a local blob with a seek to offset.
func seekOpen(open func() (io.ReadCloser, error)) store.Fetch {
	return func(_ context.Context, off int64) (io.ReadCloser, int64, error) {
		rc, err := open()
		if err != nil {
			return nil, 0, err
		}
		if s, ok := rc.(io.Seeker); ok && off > 0 {
			if _, err := s.Seek(off, io.SeekStart); err == nil {
				return rc, off, nil
			}
		}
		return rc, 0, nil
	}
}
