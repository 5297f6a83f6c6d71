package ref

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// ggcrNormalize is Normalize as it was on go-containerregistry's parser
// (before issue 15): our own parser must accept and produce the same.
func ggcrNormalize(s string) (string, error) {
	named, digest, pinned := strings.Cut(s, "@")
	r, err := name.ParseReference(named)
	if err != nil {
		return "", err
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
		return "", err
	}
	if tagged := strings.LastIndex(named, ":") > strings.LastIndex(named, "/"); tagged {
		return full + ":" + r.Identifier() + "@" + digest, nil
	}
	return full + "@" + digest, nil
}

const (
	d256 = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	d384 = "sha384:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	d512 = "sha512:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// refSeeds are the table of the comparison and the fuzz corpus: accepted
// and refused references at every edge of the grammar.
var refSeeds = []string{
	"nginx", "nginx:1.27", "nginx:latest", "Nginx", "nginx:", ":tag", "", "/", "a/", "/a", "a//b",
	"docker.io/nginx", "docker.io/library/nginx", "index.docker.io/nginx:1", "docker.io/a/b/c:1",
	"registry-1.docker.io/nginx", "docker.io:443/nginx", "DOCKER.io/nginx",
	"bitnami/redis:7", "ghcr.io/org/app", "ghcr.io/org/app:v1.2_3-RC", "ghcr.io/Org/app",
	"localhost/a", "localhost:5000/a/b", "localhost:5000/a:t", "localhost:5000", "localhost",
	"127.0.0.1:5000/busy:1", "[::1]:5000/a", "[::1/a", "host:port/a", "host:99999999/a", "a.b:/c",
	"a:b:c", "a:b/c", "a/b:c/d", "a b", "a\tb", "ä", "a/ä:1", "a:ä", "http://ghcr.io/a", "https://a/b",
	"a__b", "a--b", "a..b", "-a", "a-", ".a", "a.", "_a",
	"a:" + strings.Repeat("t", 128), "a:" + strings.Repeat("t", 129),
	strings.Repeat("a", 255), strings.Repeat("a", 256), "x.io/" + strings.Repeat("a", 255), "x.io/" + strings.Repeat("a", 256),
	"nginx@" + d256, "nginx:1@" + d256, "ghcr.io/org/app:v1@" + d256, "localhost:5000/a@" + d256,
	"nginx@" + d384, "nginx@" + d512, "nginx@sha256:12", "nginx@sha256:" + strings.ToUpper(d256[7:]),
	"nginx@md5:0123456789abcdef0123456789abcdef", "nginx@" + d256 + "@" + d256, "nginx@", "@" + d256,
	"nginx@:abc", "nginx@sha256:", "nginx@sha256" + d256[6:] + "0", "nginx@sha256:" + strings.Repeat("g", 64),
	"nginx@foo+bar:abc", "nginx:@" + d256, "Nginx@" + d256,
}

func TestNormalizeMatchesGGCR(t *testing.T) {
	for _, s := range refSeeds {
		compareGGCR(t, s)
	}
}

func FuzzNormalizeMatchesGGCR(f *testing.F) {
	for _, s := range refSeeds {
		f.Add(s)
	}
	f.Fuzz(compareGGCR)
}

func compareGGCR(t *testing.T, s string) {
	want, werr := ggcrNormalize(s)
	got, gerr := Normalize(s)
	if (werr == nil) != (gerr == nil) || got != want {
		t.Errorf("Normalize(%q) = %q, %v; go-containerregistry: %q, %v", s, got, gerr, want, werr)
	}
}
