package ref

import "testing"

func TestParse(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct{ in, want, transport, path string }{
		{"nginx", "docker.io/library/nginx:latest", Registry, ""},
		{"nginx:1.27", "docker.io/library/nginx:1.27", Registry, ""},
		{"docker.io/nginx:1.27", "docker.io/library/nginx:1.27", Registry, ""},
		{"index.docker.io/library/nginx", "docker.io/library/nginx:latest", Registry, ""},
		{"docker://redis:7", "docker.io/library/redis:7", Registry, ""},
		{"bitnami/redis:7", "docker.io/bitnami/redis:7", Registry, ""},
		{"ghcr.io/org/app@" + d, "ghcr.io/org/app@" + d, Registry, ""},
		{"ghcr.io/org/app:v1@" + d, "ghcr.io/org/app:v1@" + d, Registry, ""},
		{"127.0.0.1:5000/busy:1", "127.0.0.1:5000/busy:1", Registry, ""},
		{"localhost:5000/a/b", "localhost:5000/a/b:latest", Registry, ""},
		{"oci:img", "oci:/proj/img", OCILayout, "/proj/img"},
		{"oci:img:v2", "oci:/proj/img:v2", OCILayout, "/proj/img"},
		{"oci:/abs/layout:v2", "oci:/abs/layout:v2", OCILayout, "/abs/layout"},
		{"docker-archive:../x.tar", "docker-archive:/x.tar", DockerArchive, "/x.tar"},
	} {
		r, err := Parse(c.in, "/proj")
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if r.String() != c.want || r.Transport != c.transport || r.Path != c.path {
			t.Errorf("Parse(%q) = %+v (%s), want %s %s %s", c.in, r, r.String(), c.want, c.transport, c.path)
		}
	}
	if r, _ := Parse("ghcr.io/org/app:v1@"+d, "/"); r.Digest() != d {
		t.Errorf("Digest() = %q", r.Digest())
	}
	for _, bad := range []string{"", " nginx", "Nginx", "nginx:", "nginx@sha256:12", "oci:", "docker-archive:"} {
		if _, err := Parse(bad, "/proj"); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
