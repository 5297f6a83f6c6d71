package pull

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"nucleus/image/ref"
	"nucleus/image/store"
)

// loopbackOnlyHTTP refuses plain HTTP to any host that is not loopback
// before anything is dialled. ggcr's name.Registry picks http also for
// RFC 1918 addresses and .local names; we follow Docker: only localhost
// and 127.0.0.0/8 (and ::1) may go without TLS.
type loopbackOnlyHTTP struct{ next http.RoundTripper }

func (t loopbackOnlyHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !isLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("refusing plain HTTP to registry %s: only localhost and 127.0.0.0/8 may be reached without TLS", req.URL.Host)
	}
	return t.next.RoundTrip(req)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func resolveRegistry(ctx context.Context, r ref.Ref, o Options) (*source, error) {
	what := r.String()
	s := r.Name
	if d := r.Digest(); d != "" {
		// "repo:tag@digest": the digest decides; ggcr parses one of them.
		named, _, _ := strings.Cut(s, "@")
		if i := strings.LastIndex(named, ":"); i > strings.LastIndex(named, "/") {
			named = named[:i]
		}
		s = named + "@" + d
	}
	nref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", what, err)
	}
	repo := nref.Context()
	keys := o.Keychain
	if keys == nil {
		keys = authn.DefaultKeychain
	}
	auth, err := authn.Resolve(ctx, keys, repo)
	if err != nil {
		return nil, fmt.Errorf("image %s: credentials for %s: %w", what, repo.RegistryStr(), err)
	}
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	tr, err := transport.NewWithContext(ctx, repo.Registry, auth, loopbackOnlyHTTP{base}, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, fmt.Errorf("image %s: registry %s: %w", what, repo.RegistryStr(), err)
	}
	ropts := []remote.Option{remote.WithTransport(tr), remote.WithContext(ctx)}
	desc, err := remote.Get(nref, ropts...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", what, err)
	}
	if d := r.Digest(); d != "" {
		if got := "sha256:" + sha256Hex(desc.Manifest); got != d {
			return nil, fmt.Errorf("image %s: the registry's manifest hashes to %s, not the pinned %s", what, got, d)
		}
	}
	if desc.MediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(strings.NewReader(string(desc.Manifest)))
		if err != nil {
			return nil, fmt.Errorf("image %s: index: %w", what, err)
		}
		d, err := choosePlatform(what, idx, o.Platform)
		if err != nil {
			return nil, err
		}
		if desc, err = remote.Get(repo.Digest(d.Digest.String()), ropts...); err != nil {
			return nil, fmt.Errorf("image %s: %s manifest: %w", what, o.Platform, err)
		}
		if got := "sha256:" + sha256Hex(desc.Manifest); got != d.Digest.String() {
			return nil, fmt.Errorf("image %s: manifest %s hashes to %s", what, d.Digest, got)
		}
	}
	client := &http.Client{Transport: tr}
	blobURL := func(digest string) string {
		return fmt.Sprintf("%s://%s/v2/%s/blobs/%s", repo.Registry.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), digest)
	}
	get := func(ctx context.Context, digest, rng string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, blobURL(digest), nil)
		if err != nil {
			return nil, err
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		return client.Do(req)
	}
	open := func(d v1.Descriptor) store.Fetch {
		return func(ctx context.Context, off int64) (io.ReadCloser, int64, error) {
			rng := ""
			if off > 0 && off < d.Size {
				// Both ends: ggcr's registry (and some others) want them.
				rng = fmt.Sprintf("bytes=%d-%d", off, d.Size-1)
			}
			resp, err := get(ctx, d.Digest.String(), rng)
			if err == nil && rng != "" && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
				resp.Body.Close()
				resp, err = get(ctx, d.Digest.String(), "") // start over
			}
			if err != nil {
				return nil, 0, err
			}
			switch {
			case resp.StatusCode == http.StatusPartialContent && rng != "" &&
				strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", off)):
				return resp.Body, off, nil
			case resp.StatusCode == http.StatusOK:
				return resp.Body, 0, nil
			}
			resp.Body.Close()
			return nil, 0, fmt.Errorf("GET %s: %s", blobURL(d.Digest.String()), resp.Status)
		}
	}
	return fromManifest(what, desc.Manifest, desc.MediaType, open)
}

const refNameAnnotation = "org.opencontainers.image.ref.name"

func resolveLayout(r ref.Ref, o Options) (*source, error) {
	what := r.String()
	p, err := layout.FromPath(r.Path)
	if err != nil {
		return nil, fmt.Errorf("image %s: not an OCI layout: %w", what, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", what, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("image %s: index.json: %w", what, err)
	}
	var tags []string
	var found []v1.Descriptor
	for _, d := range im.Manifests {
		t := d.Annotations[refNameAnnotation]
		if t != "" {
			tags = append(tags, t)
		}
		if r.Name == "" || t == r.Name {
			found = append(found, d)
		}
	}
	sort.Strings(tags)
	switch {
	case len(found) == 0 && r.Name != "":
		return nil, fmt.Errorf("image %s: no image tagged %q in %s/index.json; tags present: %s", what, r.Name, r.Path, orNone(tags))
	case len(found) == 0:
		return nil, fmt.Errorf("image %s: %s/index.json lists no image", what, r.Path)
	case len(found) > 1:
		return nil, fmt.Errorf("image %s: %s holds %d images; name one (oci:%s:TAG); tags present: %s", what, r.Path, len(found), r.Path, orNone(tags))
	}
	d := found[0]
	if d.MediaType.IsIndex() {
		b, err := p.Bytes(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", what, err)
		}
		if got := "sha256:" + sha256Hex(b); got != d.Digest.String() {
			return nil, fmt.Errorf("image %s: index %s hashes to %s", what, d.Digest, got)
		}
		inner, err := v1.ParseIndexManifest(strings.NewReader(string(b)))
		if err != nil {
			return nil, fmt.Errorf("image %s: index %s: %w", what, d.Digest, err)
		}
		if d, err = choosePlatform(what, inner, o.Platform); err != nil {
			return nil, err
		}
	}
	b, err := p.Bytes(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", what, err)
	}
	if got := "sha256:" + sha256Hex(b); got != d.Digest.String() {
		return nil, fmt.Errorf("image %s: manifest %s in %s hashes to %s", what, d.Digest, r.Path, got)
	}
	return fromManifest(what, b, d.MediaType, func(bd v1.Descriptor) store.Fetch {
		return seekOpen(func() (io.ReadCloser, error) { return p.Blob(bd.Digest) })
	})
}

func resolveArchive(r ref.Ref) (*source, error) {
	what := r.String()
	var tag *name.Tag
	if r.Name != "" {
		t, err := name.NewTag(r.Name)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", what, err)
		}
		tag = &t
	}
	if _, err := os.Stat(r.Path); err != nil {
		return nil, fmt.Errorf("image %s: %w", what, err)
	}
	img, err := tarball.ImageFromPath(r.Path, tag)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", what, err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", what, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", what, err)
	}
	cfgBytes := cfg
	src := &source{config: blobSrc{digest: "sha256:" + sha256Hex(cfg), size: int64(len(cfg)), fetch: func(context.Context, int64) (io.ReadCloser, int64, error) {
		return io.NopCloser(strings.NewReader(string(cfgBytes))), 0, nil
	}}}
	// Layers are stored uncompressed, under their diff IDs: a docker save
	// holds them so, and compressing them only to compute digests would
	// cost more than the pull.
	for _, l := range layers {
		id, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", what, err)
		}
		src.layers = append(src.layers, blobSrc{digest: id.String(), size: -1, mediaType: "application/vnd.oci.image.layer.v1.tar", fetch: func(context.Context, int64) (io.ReadCloser, int64, error) {
			rc, err := l.Uncompressed()
			return rc, 0, err
		}})
	}
	return src, nil
}
