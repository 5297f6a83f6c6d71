// Package ref parses the image references a nucleus.yaml or `nucleus run
// --image` names, with the transport names skopeo and podman use: a plain
// reference is a registry image (docker.io/library/ implied, as Docker
// does), `oci:PATH[:TAG]` an OCI image layout directory and
// `docker-archive:PATH` a `docker save` tarball. It is pure: nothing is read
// from disk or the network.
package ref

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Transports.
const (
	Registry      = "registry"
	OCILayout     = "oci"
	DockerArchive = "docker-archive"
)

// Ref is one parsed image reference.
type Ref struct {
	// Transport is Registry, OCILayout or DockerArchive.
	Transport string
	// Name is, for Registry, the normalised reference
	// ("docker.io/library/nginx:1.27", "ghcr.io/org/app@sha256:..."); for
	// the others the tag or image reference inside the layout or archive
	// ("" = the only one).
	Name string
	// Path is the absolute layout directory or archive file.
	Path string
}

// Parse parses s; relative paths of oci: and docker-archive: resolve
// against dir (the project directory).
func Parse(s, dir string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("empty image reference")
	}
	if strings.TrimSpace(s) != s {
		return Ref{}, fmt.Errorf("image reference %q has leading or trailing space", s)
	}
	transport, rest, ok := strings.Cut(s, ":")
	switch {
	case ok && transport == OCILayout, ok && transport == DockerArchive:
		// As skopeo: the path ends at the first colon, the rest names the
		// image inside.
		p, inner, _ := strings.Cut(rest, ":")
		if p == "" {
			return Ref{}, fmt.Errorf("image reference %q: %s: needs a path", s, transport)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return Ref{Transport: transport, Name: inner, Path: filepath.Clean(p)}, nil
	case ok && transport == "docker" && strings.HasPrefix(rest, "//"):
		s = strings.TrimPrefix(rest, "//")
	}
	n, err := Normalize(s)
	if err != nil {
		return Ref{}, err
	}
	return Ref{Transport: Registry, Name: n}, nil
}

// Normalize turns a registry reference into its full form:
// "nginx" -> "docker.io/library/nginx:latest". A reference with both a tag
// and a digest keeps the tag for display; the digest decides what is
// pulled.
func Normalize(s string) (string, error) {
	named, digest, pinned := strings.Cut(s, "@")
	r, err := name.ParseReference(named)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", s, err)
	}
	repo := r.Context()
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	full := reg + "/" + repo.RepositoryStr()
	if !pinned {
		return full + ":" + r.Identifier(), nil
	}
	if _, err := name.NewDigest(repo.Name() + "@" + digest); err != nil {
		return "", fmt.Errorf("image reference %q: %w", s, err)
	}
	if tagged := strings.LastIndex(named, ":") > strings.LastIndex(named, "/"); tagged {
		return full + ":" + r.Identifier() + "@" + digest, nil
	}
	return full + "@" + digest, nil
}

// String is the canonical form: what the store files an image under and
// what plan and `nucleus images` print.
func (r Ref) String() string {
	switch r.Transport {
	case OCILayout, DockerArchive:
		if r.Name != "" {
			return r.Transport + ":" + r.Path + ":" + r.Name
		}
		return r.Transport + ":" + r.Path
	}
	return r.Name
}

// Digest is the digest the reference pins ("sha256:..."), or "".
func (r Ref) Digest() string {
	if r.Transport != Registry {
		return ""
	}
	if _, d, ok := strings.Cut(r.Name, "@"); ok {
		return d
	}
	return ""
}
