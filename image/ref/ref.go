// Package ref parses the image references a nucleus.yaml or `nucleus run
// --image` names, with the transport names skopeo and podman use: a plain
// reference is a registry image (docker.io/library/ implied, as Docker
// does), `oci:PATH[:TAG]` an OCI image layout directory and
// `docker-archive:PATH` a `docker save` tarball. It is pure: nothing is read
// from disk or the network.
package ref

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
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
// pulled. It accepts what go-containerregistry's name.ParseReference
// accepts (without name.StrictValidation), held to it by the tests, but
// does not link it: its go-digest and regexps cost every nucleus start
// their package init (issue 15).
func Normalize(s string) (string, error) {
	named, digest, pinned := strings.Cut(s, "@")
	reg, repo, tag, err := parseNamed(named)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", s, err)
	}
	full := reg + "/" + repo
	if !pinned {
		return full + ":" + tag, nil
	}
	if strings.Contains(digest, "@") {
		return "", fmt.Errorf("image reference %q: a digest must contain exactly one '@' separator (e.g. registry/repository@digest) saw: %s", s, full+"@"+digest)
	}
	if err := ValidateDigest(digest); err != nil {
		return "", fmt.Errorf("image reference %q: %w: %s", s, err, digest)
	}
	if tagged := strings.LastIndex(named, ":") > strings.LastIndex(named, "/"); tagged {
		return full + ":" + tag + "@" + digest, nil
	}
	return full + "@" + digest, nil
}

const (
	repositoryChars = "abcdefghijklmnopqrstuvwxyz0123456789_-./"
	tagChars        = "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// parseNamed splits NAME[:TAG] into the registry ("docker.io" for Docker
// Hub, whichever of its aliases was written), the repository (with
// "library/" implied on Docker Hub) and the tag ("latest" implied).
func parseNamed(s string) (reg, repo, tag string, err error) {
	bad := fmt.Errorf("could not parse reference: %s", s)
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return "", "", "", fmt.Errorf("image reference must not contain a URL scheme (http:// or https://): %s", s)
	}
	base := s
	// The tag follows the last colon, unless a slash comes after it (then
	// the colon was a registry's port).
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i+1:], "/") {
		base, tag = s[:i], s[i+1:]
		if !validElement(tag, tagChars, 128) {
			return "", "", "", bad
		}
	}
	if tag == "" {
		tag = "latest"
	}
	repo = base
	if first, rest, ok := strings.Cut(base, "/"); ok && (first == "localhost" || strings.ContainsAny(first, ".:")) {
		reg, repo = first, rest
	}
	if !validElement(repo, repositoryChars, 255) {
		return "", "", "", bad
	}
	// A registry is a URI authority (host[:port]), as ggcr checks it.
	if u, err := url.Parse("//" + reg); err != nil || u.Host != reg {
		return "", "", "", bad
	}
	switch reg {
	case "", "docker.io", "index.docker.io":
		reg = "docker.io"
		if !strings.Contains(repo, "/") {
			repo = "library/" + repo
		}
	}
	return reg, repo, tag, nil
}

// validElement says whether s has 1 to max characters, all from allowed.
func validElement(s, allowed string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(allowed, rune(s[i])) {
			return false
		}
	}
	return true
}

// ValidateDigest checks an OCI digest "ALGORITHM:HEX" as go-digest's
// Validate does for the algorithms it has: sha256, sha384 and sha512 in
// lower-case hex of the hash's length.
func ValidateDigest(d string) error {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || alg == "" || hex == "" {
		return errDigestFormat
	}
	var size int
	switch alg {
	case "sha256":
		size = 64
	case "sha384":
		size = 96
	case "sha512":
		size = 128
	default:
		return fmt.Errorf("unsupported digest algorithm")
	}
	if len(hex) != size {
		return fmt.Errorf("invalid checksum digest length")
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return errDigestFormat
		}
	}
	return nil
}

var errDigestFormat = fmt.Errorf("invalid checksum digest format")

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
