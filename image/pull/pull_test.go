package pull_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"
	"nucleus/image/pull"
	"nucleus/image/ref"
	"nucleus/image/store"
	"nucleus/internal/testutil"
)

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// checkStored asserts the record of rf matches img and its blobs are there.
func checkStored(t *testing.T, st *store.Store, rf ref.Ref, img v1.Image, got *store.Image) {
	t.Helper()
	rec, err := st.Lookup(rf.String())
	if err != nil {
		t.Fatalf("Lookup(%s) after pull: %v", rf, err)
	}
	if rec.Config != got.Config || rec.Manifest != got.Manifest {
		t.Errorf("record %+v, pull returned %+v", rec, got)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if rec.Config != cfg.String() {
		t.Errorf("config %s, want %s", rec.Config, cfg)
	}
	layers, _ := img.Layers()
	if len(rec.Layers) != len(layers) {
		t.Fatalf("%d layers recorded, image has %d", len(rec.Layers), len(layers))
	}
	for i, l := range rec.Layers {
		diff, _ := layers[i].DiffID()
		if l.DiffID != diff.String() || !st.HasBlob(l.Digest) {
			t.Errorf("layer %d: %+v: diff ID want %s, blob present %v", i, l, diff, st.HasBlob(l.Digest))
		}
	}
	if rec.ChainID == "" || rec.Size <= 0 {
		t.Errorf("record lacks chain ID or size: %+v", rec)
	}
	assertNoTemps(t, st)
}

func TestPullRegistryThenCachedThenSharedLayers(t *testing.T) {
	reg := imagetest.Registry(t)
	st := openStore(t)
	img := randomImage(t, 4096, 3)
	rf := push(t, reg, "test/app:1", img)

	var events []pull.Event
	got, err := pull.Pull(context.Background(), st, rf, pull.Options{Progress: func(e pull.Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if wantManifest := digestOf(t, img); got.Manifest != wantManifest {
		t.Errorf("manifest %s, want %s", got.Manifest, wantManifest)
	}
	checkStored(t, st, rf, img, got)
	if n := blobGets(t, reg, img); n != 4 {
		t.Errorf("first pull: %d blob GETs, want 4 (config + 3 layers)", n)
	}
	if last := events[len(events)-1]; last.Phase != pull.Done || last.Ref != rf.String() {
		t.Errorf("last event %+v, want done for %s", last, rf)
	}
	var layerBytes int64
	for _, l := range got.Layers {
		layerBytes += l.Size
	}
	resolved := slices.IndexFunc(events, func(e pull.Event) bool { return e.Phase == pull.Resolved })
	if resolved < 0 || events[resolved].Layers != 3 || events[resolved].Total != layerBytes {
		t.Errorf("want a resolved event with 3 layers and %d bytes before any layer event, got %+v", layerBytes, events)
	} else if first := slices.IndexFunc(events, func(e pull.Event) bool { return e.Layer != "" }); first < resolved {
		t.Errorf("layer event %d came before the resolved event %d: %+v", first, resolved, events)
	}

	// Everything present: only the manifest travels.
	reg.Reset()
	if _, err := pull.Pull(context.Background(), st, rf, pull.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := blobGets(t, reg, img); n != 0 {
		t.Errorf("second pull: %d blob GETs, want 0", n)
	}

	// An image sharing the three layers: only its new layer and config.
	extra, err := random.Layer(2048, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img2, err := mutate.AppendLayers(img, extra)
	if err != nil {
		t.Fatal(err)
	}
	rf2 := push(t, reg, "test/app:2", img2)
	got2, err := pull.Pull(context.Background(), st, rf2, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, st, rf2, img2, got2)
	cfg2, _ := img2.ConfigName()
	extraD, _ := extra.Digest()
	if n := blobGets(t, reg, img2); n != 2 || reg.BlobGets(extraD) != 1 || reg.BlobGets(cfg2) != 1 {
		t.Errorf("shared-layer pull: %d blob GETs, want 2: the new layer and the config", n)
	}
	list, err := st.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %v, %v; want 2 images", list, err)
	}
}

func platformImage(t *testing.T, arch string) v1.Image {
	img := randomImage(t, 1024, 1)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPullChoosesPlatformFromIndex(t *testing.T) {
	reg := imagetest.Registry(t)
	st := openStore(t)
	amd, arm := platformImage(t, "amd64"), platformImage(t, "arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	rf := push(t, reg, "test/multi:1", idx)
	got, err := pull.Pull(context.Background(), st, rf, pull.Options{Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest != digestOf(t, arm) || got.Platform != "linux/arm64" {
		t.Errorf("pulled %s (%s), want the arm64 image %s", got.Manifest, got.Platform, digestOf(t, arm))
	}
	_, err = pull.Pull(context.Background(), st, rf, pull.Options{Platform: "linux/s390x"})
	if err == nil || !strings.Contains(err.Error(), "has no linux/s390x image; it offers linux/amd64, linux/arm64") {
		t.Errorf("missing platform: error %v, want one naming linux/s390x and the platforms offered", err)
	}
}

func TestPullRefusesTamperedBlobAndStoresNothing(t *testing.T) {
	reg := imagetest.Registry(t)
	st := openStore(t)
	img := randomImage(t, 4096, 2)
	rf := push(t, reg, "test/bad:1", img)
	layers, _ := img.Layers()
	badH, _ := layers[1].Digest()
	bad := badH.String()
	reg.Tamper(badH, true)
	_, err := pull.Pull(context.Background(), st, rf, pull.Options{})
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), rf.String()) {
		t.Fatalf("tampered layer: error %v, want a digest mismatch naming %s and %s", err, rf, bad)
	}
	if _, err := st.Lookup(rf.String()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lookup after refused pull: %v, want ErrNotFound", err)
	}
	p, _ := st.BlobPath(bad)
	if st.HasBlob(bad) || testutil.FileExists(p+".partial") {
		t.Errorf("tampered blob %s was kept", bad)
	}
	// (The other layer's download, cancelled, may stay as a partial to
	// resume: its bytes are good so far.)
}

func TestBlobTamperedOnDiskIsRefusedAtLoad(t *testing.T) {
	reg := imagetest.Registry(t)
	st := openStore(t)
	rf := push(t, reg, "test/disk:1", randomImage(t, 4096, 1))
	got, err := pull.Pull(context.Background(), st, rf, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	flip := func(digest string) {
		p, _ := st.BlobPath(digest)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flip(got.Config)
	if _, err := st.Lookup(rf.String()); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Lookup with a changed config: %v, want a corrupt-blob error", err)
	}
	layer := got.Layers[0].Digest
	flip(layer)
	rc, err := st.OpenLayer(layer)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("reading a changed layer: %v, want ErrCorrupt", err)
	}
	if st.HasBlob(layer) {
		t.Errorf("corrupt layer %s still in the store", layer)
	}
	if _, err := st.Lookup(rf.String()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lookup with a layer removed as corrupt: %v, want ErrNotFound (pull again)", err)
	}
	// A new pull repairs it.
	if _, err := pull.Pull(context.Background(), st, rf, pull.Options{}); err != nil || !st.HasBlob(layer) {
		t.Errorf("pull after corruption: %v, layer present %v", err, st.HasBlob(layer))
	}
}

func TestPullResumesCutDownload(t *testing.T) {
	reg, st, rf, layer := oneLayerImage(t, "test/big:1", 4<<20)
	d, _ := layer.Digest()
	size, _ := layer.Size()
	reg.CutAfter(d, size/2)
	if _, err := pull.Pull(context.Background(), st, rf, pull.Options{}); err != nil {
		t.Fatal(err)
	}
	served := reg.BlobBytes(d)
	t.Logf("layer of %d bytes: %d bytes served in %d GETs", size, served, reg.BlobGets(d))
	if reg.BlobGets(d) != 2 {
		t.Errorf("GETs of the cut layer: %d, want 2", reg.BlobGets(d))
	}
	if float64(served) >= 1.5*float64(size) {
		t.Errorf("served %d bytes for a %d-byte layer, want < 1.5x", served, size)
	}
	if !st.HasBlob(d.String()) {
		t.Error("layer not stored")
	}
	assertNoTemps(t, st)
}

// TestMain runs the child processes of TestConcurrentPullsShareDownloads
// (re-executions of this test binary) instead of the tests.
func TestMain(m *testing.M) {
	if dir := os.Getenv("PULL_CHILD_STORE"); dir != "" {
		if err := childPull(dir, os.Getenv("PULL_CHILD_REF"), os.Getenv("PULL_CHILD_BARRIER")); err != nil {
			fmt.Fprintln(os.Stderr, "child pull:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childPull waits at a barrier until its sibling is there too, then pulls.
func childPull(dir, s, barrier string) error {
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	rf, err := ref.Parse(s, "")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(barrier, strconv.Itoa(os.Getpid())), nil, 0o600); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if ents, _ := os.ReadDir(barrier); len(ents) == 2 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the other pull did not reach the barrier in 10s")
		}
	}
	_, err = pull.Pull(context.Background(), st, rf, pull.Options{})
	return err
}

func TestConcurrentPullsShareDownloads(t *testing.T) {
	reg := imagetest.Registry(t)
	dataRoot, barrier := t.TempDir(), t.TempDir()
	img := randomImage(t, 4<<20, 3)
	rf := push(t, reg, "test/shared:1", img)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	outs := make([][]byte, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "PULL_CHILD_STORE="+dataRoot, "PULL_CHILD_REF="+rf.Name, "PULL_CHILD_BARRIER="+barrier)
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("pull %d: %v\n%s", i, err, outs[i])
		}
	}
	for _, h := range blobs(t, img) {
		if n := reg.BlobGets(h); n != 1 {
			t.Errorf("blob %s fetched %d times by two concurrent pulls, want once", h, n)
		}
	}
	st, _ := store.Open(dataRoot)
	if _, err := st.Lookup(rf.String()); err != nil {
		t.Error(err)
	}
	assertNoTemps(t, st)
}

// refuseAll is a base transport that records what reached it and sends
// nothing anywhere.
type refuseAll struct {
	mu   sync.Mutex
	seen []string
}

func (r *refuseAll) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.URL.String())
	r.mu.Unlock()
	return nil, fmt.Errorf("test transport: no network")
}

func TestPlainHTTPRefusedForNonLoopbackRegistry(t *testing.T) {
	for _, host := range []string{"192.168.77.1:5000", "172.16.5.5:5000", "10.0.0.1"} {
		st := openStore(t)
		base := &refuseAll{}
		rf, err := ref.Parse(host+"/app:1", "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = pull.Pull(context.Background(), st, rf, pull.Options{Transport: base})
		if err == nil || !strings.Contains(err.Error(), "refusing plain HTTP to registry "+host) {
			t.Errorf("%s: error %v, want plain HTTP refused", host, err)
		}
		for _, u := range base.seen {
			if strings.HasPrefix(u, "http:") {
				t.Errorf("%s: plain HTTP request reached the transport: %s", host, u)
			}
		}
	}
}

func TestPullOCILayoutByTag(t *testing.T) {
	st := openStore(t)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	v1img, v2img := randomImage(t, 2048, 2), randomImage(t, 2048, 1)
	for tag, img := range map[string]v1.Image{"v1": v1img, "v2": v2img} {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
			t.Fatal(err)
		}
	}
	rf, _ := ref.Parse("oci:"+dir+":v2", "")
	got, err := pull.Pull(context.Background(), st, rf, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, st, rf, v2img, got)
	for s, want := range map[string]string{
		"oci:" + dir + ":v3": `no image tagged "v3"`,
		"oci:" + dir:         "holds 2 images",
	} {
		rf, _ := ref.Parse(s, "")
		_, err := pull.Pull(context.Background(), st, rf, pull.Options{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "tags present: v1, v2") {
			t.Errorf("%s: error %v, want %q and the tags present", s, err, want)
		}
	}
	// A layout with one untagged image: that one.
	one := t.TempDir()
	p1, _ := layout.Write(one, empty.Index)
	if err := p1.AppendImage(v1img); err != nil {
		t.Fatal(err)
	}
	rf1, _ := ref.Parse("oci:"+one, "")
	got1, err := pull.Pull(context.Background(), st, rf1, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, st, rf1, v1img, got1)
}

func TestPullDockerArchive(t *testing.T) {
	st := openStore(t)
	img := randomImage(t, 2048, 2)
	path := filepath.Join(t.TempDir(), "app.tar")
	tag := name.MustParseReference("example.org/app:1").(name.Tag)
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"docker-archive:" + path, "docker-archive:" + path + ":example.org/app:1"} {
		rf, err := ref.Parse(s, "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := pull.Pull(context.Background(), st, rf, pull.Options{})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		cfg, _ := img.ConfigName()
		if got.Config != cfg.String() {
			t.Errorf("%s: config %s, want %s", s, got.Config, cfg)
		}
		for i, l := range got.Layers {
			if l.Digest != l.DiffID || l.Size <= 0 {
				t.Errorf("%s: layer %d %+v: want stored uncompressed under its diff ID, with its size", s, i, l)
			}
		}
		if _, err := st.Lookup(rf.String()); err != nil {
			t.Error(err)
		}
	}
	assertNoTemps(t, st)
}

func TestPullDigestPinned(t *testing.T) {
	reg := imagetest.Registry(t)
	st := openStore(t)
	img := randomImage(t, 1024, 1)
	rf := push(t, reg, "test/pin:1", img)
	pinned, err := ref.Parse(rf.Name+"@"+digestOf(t, img), "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pull.Pull(context.Background(), st, pinned, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest != digestOf(t, img) || got.Ref != pinned.String() {
		t.Errorf("pinned pull: %+v", got)
	}
}

func TestPullUnpacksWhileDownloading(t *testing.T) {
	reg := imagetest.Registry(t)
	st := openStore(t)
	img := imagetest.Busybox(t, []imagebuild.Entry{imagebuild.File("etc/motd", 0o644, "hi\n")})
	rf := push(t, reg, "test/unpack:1", img)
	var mu sync.Mutex
	var phases []pull.Phase
	got, err := pull.Pull(context.Background(), st, rf, pull.Options{Unpack: true, Progress: func(e pull.Event) {
		mu.Lock()
		phases = append(phases, e.Phase)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := st.TreePath(got)
	if b, err := os.ReadFile(filepath.Join(dir, "etc/motd")); err != nil || string(b) != "hi\n" {
		t.Errorf("etc/motd in the unpacked tree: %q, %v", b, err)
	}
	if n := strings.Count(fmt.Sprint(phases), string(pull.Unpacking)); n != len(got.Layers) {
		t.Errorf("%d unpacking events for %d layers: %v", n, len(got.Layers), phases)
	}
	if d, err := st.Tree(context.Background(), got); err != nil || d != dir {
		t.Errorf("Tree after an unpacking pull: %s, %v; want %s", d, err, dir)
	}
	assertNoTemps(t, st)

	// A tampered last layer: no tree, no temporary left.
	st2 := openStore(t)
	layers, _ := img.Layers()
	last, _ := layers[len(layers)-1].Digest()
	reg.Tamper(last, true)
	if _, err := pull.Pull(context.Background(), st2, rf, pull.Options{Unpack: true}); err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("unpacking pull of a tampered layer: %v, want a digest mismatch", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(st2.Dir, "trees")); len(ents) != 0 {
		t.Errorf("trees after a refused pull: %v", ents)
	}
}

// TestPullUsesDockerConfigCredentials: a registry that wants basic auth is
// reached with the credentials of $DOCKER_CONFIG/config.json.
func TestPullUsesDockerConfigCredentials(t *testing.T) {
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	s := host + "/private/app:1"
	nr, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(nr, randomImage(t, 1024, 1), remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	rf := parseRef(t, s)

	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if _, err := pull.Pull(context.Background(), openStore(t), rf, pull.Options{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("pull without credentials: %v, want refused with 401", err)
	}
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	testutil.WriteFile(t, filepath.Join(dir, "config.json"), `{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`)
	t.Setenv("DOCKER_CONFIG", dir)
	if _, err := pull.Pull(context.Background(), openStore(t), rf, pull.Options{}); err != nil {
		t.Errorf("pull with credentials in $DOCKER_CONFIG: %v", err)
	}
}

// TestPullResumesPartialLeftByEarlierRun: the .partial of a pull that died
// is hashed and continued, not fetched again.
func TestPullResumesPartialLeftByEarlierRun(t *testing.T) {
	reg, st, rf, layer := oneLayerImage(t, "test/partial:1", 2<<20)
	d, _ := layer.Digest()
	size, _ := layer.Size()
	rc, err := layer.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, size/2)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	p, _ := st.BlobPath(d.String())
	if err := os.WriteFile(p+".partial", head, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pull.Pull(context.Background(), st, rf, pull.Options{}); err != nil {
		t.Fatal(err)
	}
	if got, want := reg.BlobBytes(d), size-size/2; got != want {
		t.Errorf("served %d bytes of the layer, want the %d missing from the partial", got, want)
	}
	assertNoTemps(t, st)

	// A partial whose bytes are wrong: the pull starts over and succeeds.
	st2 := openStore(t)
	p2, _ := st2.BlobPath(d.String())
	head[0] ^= 0xff
	if err := os.WriteFile(p2+".partial", head, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pull.Pull(context.Background(), st2, rf, pull.Options{}); err != nil {
		t.Fatalf("pull over a bad partial: %v", err)
	}
	if !st2.HasBlob(d.String()) {
		t.Error("layer not stored after a bad partial")
	}
	assertNoTemps(t, st2)
}
