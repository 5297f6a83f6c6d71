// Package k8stest is what the tests of the Kubernetes export share with the
// tests that apply it to a real apiserver and cluster (test/k8s): the
// fixture projects, their image built in-process, and the export as the
// CLI writes it.
//
//	dir := k8stest.FixtureDir(t, "web")
//	stream := k8stest.Export(t, dir, k8s.Options{HostUsers: true})
//	k8stest.FixtureImageArchive(t, tar) // then: ctr -n k8s.io images import tar
package k8stest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"nucleus/export/k8s"
	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"
	"nucleus/internal/testutil"
	"nucleus/loader"
	"nucleus/spec"
)

// FixtureImageName is the name `nucleus export k8s` gives the fixtures'
// image (image: oci:./build/layout:1 in project k8s-fixture): the name to
// import it under on the nodes.
const FixtureImageName = "localhost/k8s-fixture/layout:1"

// FixtureDir is the absolute directory of test/k8s/fixtures/NAME.
func FixtureDir(t testing.TB, name string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("k8stest: cannot find its own source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "test", "k8s", "fixtures", name)
}

// Load loads the project in dir as the CLI does, with an empty environment
// (nothing of the caller's is interpolated).
func Load(t testing.TB, dir string) *spec.Project {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.Load(loader.Options{LoadOptions: spec.LoadOptions{WorkingDir: abs, Environ: map[string]string{}}})
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	return p
}

// Export returns the export of the project in dir as `nucleus export k8s`
// prints it (header and objects); it fails the test when a service cannot
// be exported. The warnings are logged.
func Export(t testing.TB, dir string, o k8s.Options) []byte {
	t.Helper()
	p := Load(t, dir)
	if o.BaseDir == "" {
		o.BaseDir = p.Dir
	}
	res := k8s.Export(p, o)
	for _, w := range res.Warnings {
		t.Logf("export %s: %s", p.Name, w)
	}
	if res.Failed() {
		t.Fatalf("export of %s failed (errors above)", dir)
	}
	out, err := res.YAML(k8s.Header(p))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FixtureImage builds the fixtures' image as their Makefile does
// (scripts/mkimage): busybox-static, the site under /srv/site, user app
// (999), busybox httpd on 8080 as entrypoint and cmd. It needs Debian's
// busybox-static (skips without it, fails in CI).
func FixtureImage(t testing.TB) v1.Image {
	t.Helper()
	s := imagetest.BusyboxSpec(t)
	site, err := imagebuild.FromHost(filepath.Join(FixtureDir(t, "web"), "site"), "srv/site")
	if err != nil {
		t.Fatal(err)
	}
	s.Layers = append(s.Layers, append([]imagebuild.Entry{imagebuild.Dir("srv", 0o755)}, site...))
	s.Config.Entrypoint = []string{"/bin/busybox", "httpd", "-f", "-v"}
	s.Config.Cmd = []string{"-p", "8080", "-h", "/srv/site"}
	s.Config.User = "app"
	s.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	return imagetest.Build(t, s)
}

// FixtureImageArchive writes the fixtures' image as a `docker save`
// tarball tagged FixtureImageName, which `ctr -n k8s.io images import`
// registers under that name.
func FixtureImageArchive(t testing.TB, path string) {
	t.Helper()
	imagetest.WriteArchive(t, path, FixtureImage(t), FixtureImageName)
}

// FixtureImageLayout writes the fixtures' image as the OCI layout their
// nucleus.yaml names (DIR/build/layout, tag 1), so that nucleus itself can
// run the fixture from dir (a copy of FixtureDir).
func FixtureImageLayout(t testing.TB, dir string) {
	t.Helper()
	imagetest.WriteLayout(t, filepath.Join(dir, "build", "layout"), FixtureImage(t), "1")
}

// Version is the Kubernetes release test/k8s/build-tools.sh builds.
const Version = "v1.37.2"

// ToolsDir is where build-tools.sh put the binaries (make k8s-tools):
// $NUCLEUS_K8S_BIN, else $NUCLEUS_K8S_CACHE (default /var/cache/nucleus-k8s)
// /VERSION/bin. It fails (skips outside CI) until the build is complete.
func ToolsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("NUCLEUS_K8S_BIN")
	if dir == "" {
		cache := os.Getenv("NUCLEUS_K8S_CACHE")
		if cache == "" {
			cache = "/var/cache/nucleus-k8s"
		}
		dir = filepath.Join(cache, Version, "bin")
	}
	testutil.Require(t, testutil.FileExists(filepath.Join(dir, ".complete")),
		"Kubernetes tools built into "+dir+" (make k8s-tools)")
	return dir
}
