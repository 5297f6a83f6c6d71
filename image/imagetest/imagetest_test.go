package imagetest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/image/imagebuild"
	"nucleus/image/unpack"
	"nucleus/internal/testutil"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// appImage is busybox plus a layer that exercises owners, hard links,
// whiteouts and an opaque directory, with a full config.
func appImage(t *testing.T, format imagebuild.Format) v1.Image {
	s := BusyboxSpec(t)
	s.Format = format
	s.Layers = append(s.Layers,
		[]imagebuild.Entry{
			imagebuild.Dir("srv", 0o755),
			imagebuild.File("srv/index.html", 0o644, "hello\n").Owner(imagebuild.AppUID, imagebuild.AppGID),
			imagebuild.Dir("opt", 0o755),
			imagebuild.File("opt/old", 0o644, "old\n"),
		},
		[]imagebuild.Entry{
			imagebuild.Hardlink("srv/same.html", "srv/index.html"),
			imagebuild.Whiteout("etc/group"),
			imagebuild.Opaque("opt"),
			imagebuild.File("opt/new", 0o644, "new\n"),
		})
	s.Config.Entrypoint = []string{"/bin/busybox", "httpd"}
	s.Config.Cmd = []string{"-f", "-p", "8080", "-h", "/srv"}
	s.Config.Env = append(s.Config.Env, "GREETING=hi")
	s.Config.WorkingDir = "/srv"
	s.Config.User = "app"
	s.Config.StopSignal = "SIGINT"
	s.Config.Healthcheck = &v1.HealthConfig{Test: []string{"CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/"}}
	s.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	s.Config.Labels = map[string]string{"org.example": "yes"}
	return Build(t, s)
}

// flat reads img's filesystem as go-containerregistry flattens it
// (whiteouts applied): name -> header, and file contents.
func flat(t *testing.T, img v1.Image) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	es, err := imagebuild.ReadTar(rc)
	if err != nil {
		t.Fatal(err)
	}
	hs, bodies := map[string]*tar.Header{}, map[string]string{}
	for _, e := range es {
		hs[e.Header.Name], bodies[e.Header.Name] = &e.Header, string(e.Body)
	}
	return hs, bodies
}

func checkAppTree(t *testing.T, img v1.Image) {
	t.Helper()
	hs, bodies := flat(t, img)
	for _, want := range []string{"bin/busybox", "bin/sh", "bin/cat", "bin/ls", "bin/sleep", "bin/echo", "usr/bin/id", "usr/bin/wget", "usr/bin/nc", "usr/sbin/httpd"} {
		if hs[want] == nil {
			t.Errorf("image has no %s", want)
		}
	}
	if h := hs["bin/sh"]; h != nil && (h.Typeflag != tar.TypeSymlink || h.Linkname != "/bin/busybox") {
		t.Errorf("bin/sh: type %c -> %q, want symlink to /bin/busybox", h.Typeflag, h.Linkname)
	}
	if !strings.Contains(bodies["etc/passwd"], "app:x:999:999:") {
		t.Errorf("etc/passwd has no app user 999:\n%s", bodies["etc/passwd"])
	}
	if h := hs["srv/index.html"]; h == nil || h.Uid != 999 || h.Gid != 999 || bodies["srv/index.html"] != "hello\n" {
		t.Errorf("srv/index.html: %+v %q, want owned by 999:999 with hello", h, bodies["srv/index.html"])
	}
	if h := hs["srv/same.html"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "srv/index.html" {
		t.Errorf("srv/same.html: %+v, want a hard link to srv/index.html", h)
	}
	if hs["etc/group"] != nil || hs["opt/old"] != nil || hs["opt/new"] == nil {
		t.Errorf("whiteout and opaque dir not applied: etc/group %v, opt/old %v, opt/new %v",
			hs["etc/group"] != nil, hs["opt/old"] != nil, hs["opt/new"] != nil)
	}
	if h := hs["tmp"]; h == nil || h.Mode&0o7777 != 0o1777 {
		t.Errorf("tmp: %+v, want mode 1777", h)
	}
}

func checkConfig(t *testing.T, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	got := fmt.Sprintln(c.Entrypoint, c.Cmd, c.WorkingDir, c.User, c.StopSignal, c.Healthcheck.Test, c.ExposedPorts, c.Labels, c.Env[len(c.Env)-1])
	want := "[/bin/busybox httpd] [-f -p 8080 -h /srv] /srv app SIGINT [CMD wget -q -O- http://127.0.0.1:8080/] map[8080/tcp:{}] map[org.example:yes] GREETING=hi\n"
	if got != want {
		t.Errorf("config:\n got %s\nwant %s", got, want)
	}
	if p := cf.Platform(); p.OS != "linux" || p.Architecture != imagebuild.HostPlatform().Architecture {
		t.Errorf("platform %s, want the host's", p)
	}
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBusyboxThroughRegistry(t *testing.T) {
	for _, f := range []imagebuild.Format{imagebuild.OCI, imagebuild.Docker} {
		img := appImage(t, f)
		reg := Registry(t)
		if !strings.HasPrefix(reg.Host, "127.0.0.1:") {
			t.Fatalf("registry on %s, want 127.0.0.1", reg.Host)
		}
		s := reg.Push(t, "app:1", img)
		ref, err := name.ParseReference(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		if digest(t, got) != digest(t, img) {
			t.Fatalf("pulled digest %s, pushed %s", digest(t, got), digest(t, img))
		}
		mt, _ := got.MediaType()
		if want := map[imagebuild.Format]types.MediaType{imagebuild.OCI: types.OCIManifestSchema1, imagebuild.Docker: types.DockerManifestSchema2}[f]; mt != want {
			t.Errorf("manifest media type %s, want %s", mt, want)
		}
		checkConfig(t, got)
		checkAppTree(t, got)

		// The counters saw the pull (not the push), byte for byte.
		if n := reg.Requests("GET", "/v2/app/manifests/1"); n != 1 {
			t.Errorf("GET manifest counted %d times, want 1", n)
		}
		ls, _ := got.Layers()
		h, _ := ls[0].Digest()
		size, _ := ls[0].Size()
		if n := reg.Bytes(BlobPath("app", h)); n != size {
			t.Errorf("base layer: %d bytes counted, want its size %d", n, size)
		}
		// The same layer under a second repository is the same blob.
		ref2, _ := name.ParseReference(reg.Push(t, "other/app:2", img))
		got2, err := remote.Image(ref2)
		if err != nil {
			t.Fatal(err)
		}
		ls2, _ := got2.Layers()
		if _, err := io.ReadAll(must(ls2[0].Compressed())); err != nil {
			t.Fatal(err)
		}
		if g, b := reg.BlobGets(h), reg.BlobBytes(h); g != 1+1 || b != 2*size {
			t.Errorf("base layer pulled through two repositories: %d GETs, %d bytes, want 2 and %d", g, b, 2*size)
		}
		reg.Reset()
		if n := reg.Bytes(BlobPath("app", h)); n != 0 {
			t.Errorf("after Reset: %d bytes", n)
		}
	}
}

func TestLayoutAndArchive(t *testing.T) {
	img := appImage(t, imagebuild.OCI)
	dir := filepath.Join(t.TempDir(), "layout")
	WriteLayout(t, dir, img, "v1")
	WriteLayout(t, dir, MultiArch(t, imagebuild.OCI), "multi")
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 2 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1" ||
		im.Manifests[1].Annotations["org.opencontainers.image.ref.name"] != "multi" {
		t.Fatalf("layout index: %+v, want v1 and multi by ref.name", im.Manifests)
	}
	got, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, got) != digest(t, img) {
		t.Fatalf("layout digest %s, want %s", digest(t, got), digest(t, img))
	}
	checkConfig(t, got)
	checkAppTree(t, got)

	path := filepath.Join(t.TempDir(), "app.tar")
	WriteArchive(t, path, img, "app:1")
	tag, _ := name.NewTag("app:1")
	arch, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	// docker save keeps the config and the layers; the manifest is Docker's.
	c1, _ := arch.ConfigName()
	c2, _ := img.ConfigName()
	if c1 != c2 {
		t.Errorf("archive config %s, want %s", c1, c2)
	}
	checkConfig(t, arch)
	checkAppTree(t, arch)
}

func TestMultiArchIndex(t *testing.T) {
	reg := Registry(t)
	s := reg.Push(t, "multi:1", MultiArch(t, imagebuild.OCI))
	ref, _ := name.ParseReference(s)
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	var plats []string
	for _, m := range im.Manifests {
		plats = append(plats, m.Platform.String())
	}
	host, other := imagebuild.HostPlatform(), OtherPlatform()
	if got := strings.Join(plats, " "); got != host.String()+" "+other.String() {
		t.Fatalf("index platforms %q, want %s and %s", got, host, other)
	}
	for _, p := range []v1.Platform{host, other} {
		img, err := remote.Image(ref, remote.WithPlatform(p))
		if err != nil {
			t.Fatal(err)
		}
		if _, bodies := flat(t, img); bodies["platform"] != p.String() {
			t.Errorf("image chosen for %s has /platform %q", p, bodies["platform"])
		}
	}
}

// blob GETs one blob straight over HTTP, with an optional Range header.
func blob(t *testing.T, reg *Reg, h v1.Hash, rng string) (int, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+reg.Host+BlobPath("app", h), nil)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func TestTamperAndCut(t *testing.T) {
	img := Busybox(t)
	reg := Registry(t)
	s := reg.Push(t, "app:1", img)
	ls, _ := img.Layers()
	h, _ := ls[0].Digest()
	want, _ := io.ReadAll(must(ls[0].Compressed()))

	reg.CutAfter(h, 1000)
	_, b, err := blob(t, reg, h, "")
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(b) != 1000 || !bytes.Equal(b, want[:1000]) {
		t.Fatalf("cut download: %d bytes, err %v; want the first 1000 and an unexpected EOF", len(b), err)
	}
	// Once only; and the rest can be fetched with a Range, as a resume does.
	code, rest, err := blob(t, reg, h, fmt.Sprintf("bytes=1000-%d", len(want)-1))
	if err != nil || code != http.StatusPartialContent || !bytes.Equal(append(b, rest...), want) {
		t.Fatalf("resume: status %d, err %v, %d bytes; want 206 and the rest of %d", code, err, len(rest), len(want))
	}
	if sum := sha256.Sum256(append(b, rest...)); fmt.Sprintf("sha256:%x", sum) != h.String() {
		t.Fatalf("resumed blob does not match its digest")
	}

	reg.Tamper(h, true)
	_, b, err = blob(t, reg, h, "")
	if err != nil || len(b) != len(want) || bytes.Equal(b, want) {
		t.Fatalf("tampered blob: %d bytes (want %d), err %v, identical %v", len(b), len(want), err, bytes.Equal(b, want))
	}
	ref, _ := name.ParseReference(s)
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := pulled.Layers()
	_, err = io.ReadAll(must(pl[0].Compressed()))
	if err == nil || !strings.Contains(err.Error(), h.String()) {
		t.Fatalf("go-containerregistry read the tampered layer, err %v; want a digest mismatch", err)
	}
	reg.Tamper(h, false)
	if _, b, _ = blob(t, reg, h, ""); !bytes.Equal(b, want) {
		t.Fatalf("Tamper(h, false) still serves other bytes")
	}
}

func must(rc io.ReadCloser, err error) io.ReadCloser {
	if err != nil {
		panic(err)
	}
	return rc
}

// The busybox image is a working root: unpacked with image/unpack, its
// shell runs applets through the symlinks and knows the image user.
func TestBusyboxRuns(t *testing.T) {
	testutil.RequireRoot(t)
	img := Busybox(t, []imagebuild.Entry{imagebuild.File("etc/motd", 0o644, "hi\n")})
	root := t.TempDir()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		err = unpack.Apply(root, rc, unpack.Options{Image: "busybox", Layer: fmt.Sprint(i)})
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("chroot", root, "/bin/sh", "-c",
		"cat /etc/motd; id -u app; id -g app; ls -ld /tmp | cut -c1-10; echo x | sed s/x/y/; which wget nc httpd sleep").CombinedOutput()
	want := "hi\n999\n999\ndrwxrwxrwt\ny\n/usr/bin/wget\n/usr/bin/nc\n/usr/sbin/httpd\n/bin/sleep\n"
	if err != nil || string(out) != want {
		t.Fatalf("shell in the unpacked image: err %v, output\n%s\nwant\n%s", err, out, want)
	}
}
