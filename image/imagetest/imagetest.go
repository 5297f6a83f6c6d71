// Package imagetest is the testing.T layer over image/imagebuild: it builds
// test images from Debian's busybox-static, writes them as OCI layouts and
// docker-archive tarballs, and serves them from an in-process registry on
// 127.0.0.1 (registry.go), so no test reaches the internet.
//
//	spec := imagetest.BusyboxSpec(t)
//	spec.Layers = append(spec.Layers, []imagebuild.Entry{
//		imagebuild.File("etc/motd", 0o644, "hi\n"),
//		imagebuild.Whiteout("tmp"),
//	})
//	spec.Config.User = "app"
//	img := imagetest.Build(t, spec)
//	reg := imagetest.Registry(t)
//	ref := reg.Push(t, "app:1", img) // "127.0.0.1:PORT/app:1"
package imagetest

import (
	"os"
	"runtime"
	"testing"

	"nucleus/image/imagebuild"
	"nucleus/internal/testutil"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BusyboxSpec is the spec of the busybox base image (imagebuild.Busybox of
// /bin/busybox); a missing busybox-static skips the test, or fails it in CI.
func BusyboxSpec(t testing.TB) imagebuild.Spec {
	t.Helper()
	_, err := os.Stat(imagebuild.BusyboxPath)
	testutil.Require(t, err == nil, imagebuild.BusyboxPath+" (Debian package busybox-static)")
	s, err := imagebuild.Busybox(imagebuild.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Busybox builds the busybox base image with more layers on top.
func Busybox(t testing.TB, layers ...[]imagebuild.Entry) v1.Image {
	t.Helper()
	s := BusyboxSpec(t)
	s.Layers = append(s.Layers, layers...)
	return Build(t, s)
}

// Build builds s or fails the test.
func Build(t testing.TB, s imagebuild.Spec) v1.Image {
	t.Helper()
	img, err := imagebuild.Build(s)
	if err != nil {
		t.Fatalf("building test image: %v", err)
	}
	return img
}

// MultiArch returns an index of the busybox image for linux/<host arch>
// and a linux/arm64 (or linux/amd64 on an arm64 host) image for platform
// selection tests. Each has the file /platform naming its platform
// ("linux/arm64"), so a test can tell which one was unpacked; the other
// platform's busybox is the host's binary and will not run.
func MultiArch(t testing.TB, format imagebuild.Format) v1.ImageIndex {
	t.Helper()
	var imgs []v1.Image
	for _, p := range []v1.Platform{imagebuild.HostPlatform(), OtherPlatform()} {
		s := BusyboxSpec(t)
		s.Format, s.Platform = format, p
		s.Layers = append(s.Layers, []imagebuild.Entry{
			imagebuild.File("platform", 0o644, p.OS+"/"+p.Architecture)})
		imgs = append(imgs, Build(t, s))
	}
	idx, err := imagebuild.Index(format, imgs...)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// OtherPlatform is a platform this host cannot run: linux/arm64, or
// linux/amd64 on an arm64 host.
func OtherPlatform() v1.Platform {
	if runtime.GOARCH == "arm64" {
		return v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	return v1.Platform{OS: "linux", Architecture: "arm64"}
}

// WriteLayout writes img (a v1.Image or v1.ImageIndex) into the OCI image
// layout at dir (created or appended to), its index entry annotated with
// org.opencontainers.image.ref.name=tag: what `oci:dir:tag` names.
func WriteLayout(t testing.TB, dir string, img any, tag string) {
	t.Helper()
	if err := imagebuild.WriteLayout(dir, img, tag); err != nil {
		t.Fatal(err)
	}
}

// WriteArchive writes img as a `docker save` tarball at path, tagged tag
// (e.g. "busybox:1"): what `docker-archive:path` names.
func WriteArchive(t testing.TB, path string, img v1.Image, tag string) {
	t.Helper()
	if err := imagebuild.WriteArchive(path, img, tag); err != nil {
		t.Fatal(err)
	}
}
