package pullset_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"nucleus/image/imagetest"
	"nucleus/image/progress"
	"nucleus/image/pullset"
	"nucleus/image/store"
	"nucleus/internal/testutil"
	"nucleus/spec"
)

// load writes yaml as a project and loads it.
func load(t *testing.T, yaml string) *spec.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nucleus.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := spec.Load(spec.LoadOptions{Files: []string{filepath.Join(dir, "nucleus.yaml")}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPullDeduplicatesAndFollowsPolicies(t *testing.T) {
	reg := imagetest.Registry(t)
	shared, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	other, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := reg.Push(t, "app:1", shared)
	b := reg.Push(t, "other:1", other)
	p := load(t, `services:
  web: {image: "`+a+`", command: /bin/true}
  worker: {image: "`+a+`", command: /bin/true}
  side: {image: "`+b+`", command: /bin/true, pull_policy: always}
  host: {command: /bin/true}
`)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out testutil.SyncBuffer
	d := progress.New(&out, false)
	got, err := pullset.Pull(context.Background(), st, p, pullset.Options{Reporter: d})
	d.Done()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[a] == nil || got[b] == nil {
		t.Fatalf("got %v, want records of %s and %s", got, a, b)
	}
	if n := reg.Requests("GET", "/v2/app/manifests/1"); n != 1 {
		t.Errorf("%s used by two services: %d manifest GETs, want 1", a, n)
	}
	for _, img := range got {
		if _, err := os.Stat(filepath.Join(mustTree(t, st, img), ".")); err != nil {
			t.Errorf("%s not unpacked: %v", img.Ref, err)
		}
	}
	log := out.String()
	if strings.ContainsAny(log, "\r\x1b") {
		t.Errorf("plain output has a carriage return or escape: %q", log)
	}
	for _, want := range []string{a + ": pulling 2 layers", a + ": layer 2/2 sha256:", a + ": pulled " + got[a].Manifest, b + ": pulled " + got[b].Manifest} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}

	// Present now: missing pulls nothing, always pulls its image again,
	// Refresh (nucleus pull) pulls both.
	reg.Reset()
	if _, err := pullset.Pull(context.Background(), st, p, pullset.Options{}); err != nil {
		t.Fatal(err)
	}
	if na, nb := reg.Requests("GET", "/v2/app/manifests/1"), reg.Requests("GET", "/v2/other/manifests/1"); na != 0 || nb != 1 {
		t.Errorf("second up: manifest GETs app %d (missing: want 0), other %d (always: want 1)", na, nb)
	}
	reg.Reset()
	if _, err := pullset.Pull(context.Background(), st, p, pullset.Options{Refresh: true, Services: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	if na, nb := reg.Requests("GET", "/v2/app/manifests/1"), reg.Requests("GET", "/v2/other/manifests/1"); na != 1 || nb != 0 {
		t.Errorf("refresh of web: manifest GETs app %d (want 1), other %d (not selected: want 0)", na, nb)
	}
	// never: up leaves an absent image alone (an error); pull fetches it.
	c := reg.Push(t, "local:1", other)
	pn := load(t, `services:
  only: {image: "`+c+`", command: /bin/true, pull_policy: never}
`)
	if _, err := pullset.Pull(context.Background(), st, pn, pullset.Options{}); err == nil {
		t.Error("up pulled (or found) an absent image with pull_policy: never")
	}
	if got, err := pullset.Pull(context.Background(), st, pn, pullset.Options{Refresh: true}); err != nil || got[c] == nil {
		t.Errorf("nucleus pull of a never image: %v, %v; want it pulled", got, err)
	}
	if got, err := pullset.Pull(context.Background(), st, pn, pullset.Options{}); err != nil || got[c] == nil {
		t.Errorf("up after the pull: %v, %v; want the never image found", got, err)
	}
}

func mustTree(t *testing.T, st *store.Store, img *store.Image) string {
	t.Helper()
	dir, err := st.TreePath(img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("tree of %s: %v", img.Ref, err)
	}
	return dir
}

func TestPullErrorsNameImageAndServices(t *testing.T) {
	reg := imagetest.Registry(t)
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	good := reg.Push(t, "good:1", img)
	p := load(t, `services:
  a: {image: "`+reg.Host+`/absent:1", command: /bin/true}
  b: {image: "`+reg.Host+`/absent:1", command: /bin/true}
  c: {image: "`+reg.Host+`/local:1", command: /bin/true, pull_policy: never}
  d: {image: "`+good+`", command: /bin/true}
`)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := pullset.Pull(context.Background(), st, p, pullset.Options{})
	if err == nil {
		t.Fatal("pull of an absent image succeeded")
	}
	msg := err.Error()
	for _, want := range []string{
		"image " + reg.Host + "/absent:1 (services a, b): ",
		"image " + reg.Host + "/local:1 (service c): not in the store, and pull_policy: never forbids pulling it",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if got[good] == nil {
		t.Errorf("the good image was not pulled beside the failures: %v", got)
	}
	// With Where, a failure starts at its first service's image key and
	// names its image once.
	_, err = pullset.Pull(context.Background(), st, p, pullset.Options{Services: []string{"a", "b"},
		Where: func(s string) string { return "nucleus.yaml:3:" + s }})
	if want := "nucleus.yaml:3:a: services.a.image (and service b): " + reg.Host + "/absent:1: "; err == nil ||
		!strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "absent:1") != 1 {
		t.Errorf("pull with Where: %v, want %q... naming the image once", err, want)
	}
	if _, err := pullset.Pull(context.Background(), st, p, pullset.Options{Services: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "no such service: nope") {
		t.Errorf("unknown service: err %v, want one naming it", err)
	}
}
