package resolve_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"
	"nucleus/image/pull"
	"nucleus/image/ref"
	"nucleus/image/resolve"
	"nucleus/image/store"
	"nucleus/spec"
)

// appImage is busybox with an entrypoint, cmd, env, user and workdir.
func appImage(t *testing.T, motd string) v1.Image {
	s := imagetest.BusyboxSpec(t)
	s.Config.Entrypoint = []string{"/bin/sh", "-c"}
	s.Config.Cmd = []string{"echo hi"}
	s.Config.Env = []string{"PATH=/bin", "GREETING=image"}
	s.Config.User = "app"
	s.Config.WorkingDir = "/srv"
	s.Layers = append(s.Layers, []imagebuild.Entry{imagebuild.File("etc/motd", 0o644, motd)})
	return imagetest.Build(t, s)
}

func newResolver(t *testing.T) (*resolve.Resolver, *int) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pulls := 0
	return &resolve.Resolver{Store: st, Pull: func(ctx context.Context, r ref.Ref) (*store.Image, error) {
		pulls++
		return pull.Pull(ctx, st, r, pull.Options{})
	}}, &pulls
}

func project(svcs ...*spec.Service) *spec.Project {
	p := &spec.Project{Name: "p", Services: map[string]*spec.Service{}}
	for _, s := range svcs {
		p.Services[s.Name] = s
	}
	return p
}

func TestProjectPullsEachImageOnceAndMergesItsConfig(t *testing.T) {
	reg := imagetest.Registry(t)
	name := reg.Push(t, "app:1", appImage(t, "one"))
	canon, _ := ref.Normalize(name)
	web := &spec.Service{Name: "web", Image: canon, PullPolicy: spec.PullMissing, Environment: map[string]string{"GREETING": "file"}}
	worker := &spec.Service{Name: "worker", Image: canon, PullPolicy: spec.PullMissing, Command: []string{"echo worker"}}
	hostSvc := &spec.Service{Name: "host", Command: []string{"true"}}
	r, pulls := newResolver(t)
	got, err := r.Project(context.Background(), project(web, worker, hostSvc))
	if err != nil {
		t.Fatal(err)
	}
	if *pulls != 1 {
		t.Errorf("%d pulls for one reference used twice, want 1", *pulls)
	}
	w := got.Services["web"]
	if want := []string{"/bin/sh", "-c", "echo hi"}; !slices.Equal(w.Command, want) {
		t.Errorf("web argv %q, want the image's entrypoint + cmd %q", w.Command, want)
	}
	if w.Environment["GREETING"] != "file" || w.Environment["PATH"] != "/bin" {
		t.Errorf("web env %v: want the image's PATH and the file's GREETING", w.Environment)
	}
	if w.User != "app" || w.WorkingDir != "/srv" {
		t.Errorf("web user %q workdir %q, want the image's app and /srv", w.User, w.WorkingDir)
	}
	if want := []string{"/bin/sh", "-c", "echo worker"}; !slices.Equal(got.Services["worker"].Command, want) {
		t.Errorf("worker argv %q, want %q (command replaces cmd)", got.Services["worker"].Command, want)
	}
	img, err := r.Store.Lookup(canon)
	if err != nil {
		t.Fatal(err)
	}
	tree, _ := r.Store.TreePath(img)
	if w.ImageDigest != img.Manifest || w.Rootfs != tree {
		t.Errorf("web digest %q rootfs %q, want %q %q", w.ImageDigest, w.Rootfs, img.Manifest, tree)
	}
	if got.Services["host"] != hostSvc || web.ImageDigest != "" || len(web.Command) != 0 {
		t.Error("resolution changed the loaded project instead of a copy")
	}
	if spec.ServiceHash(w) == spec.ServiceHash(web) {
		t.Error("the resolved service hashes like the unresolved one")
	}
	dir, err := resolve.Tree(context.Background(), r.Store, w)
	if err != nil || dir != tree {
		t.Fatalf("Tree = %q, %v; want %q", dir, err, tree)
	}
}

func TestPoliciesDecideWhatIsPulled(t *testing.T) {
	reg := imagetest.Registry(t)
	name := reg.Push(t, "app:1", appImage(t, "one"))
	canon, _ := ref.Normalize(name)
	ctx := context.Background()

	r, pulls := newResolver(t)
	pullFn := r.Pull
	r.Pull = nil
	svc := &spec.Service{Name: "web", Image: canon, PullPolicy: spec.PullMissing}
	if _, err := r.Image(ctx, svc); !errors.Is(err, resolve.ErrNotPulled) || !strings.Contains(err.Error(), "nucleus pull") {
		t.Errorf("missing image without a puller: %v, want ErrNotPulled naming nucleus pull", err)
	}
	r.Pull = pullFn
	never := &spec.Service{Name: "web", Image: canon, PullPolicy: spec.PullNever}
	if _, err := r.Image(ctx, never); !errors.Is(err, resolve.ErrNotPulled) || !strings.Contains(err.Error(), "pull_policy is never") {
		t.Errorf("pull_policy never: %v", err)
	}
	first, err := r.Image(ctx, svc)
	if err != nil || *pulls != 1 {
		t.Fatalf("missing: %v, %d pulls", err, *pulls)
	}

	// A new digest under the same tag: missing keeps the stored one,
	// always fetches it on an explicit up.
	reg.Push(t, "app:1", appImage(t, "two"))
	if img, _ := r.Image(ctx, svc); img.Manifest != first.Manifest || *pulls != 1 {
		t.Errorf("missing re-resolved to %s after %d pulls, want the stored %s without pulling", img.Manifest, *pulls, first.Manifest)
	}
	always := &spec.Service{Name: "web", Image: canon, PullPolicy: spec.PullAlways}
	if img, _ := r.Image(ctx, always); img.Manifest != first.Manifest {
		t.Error("always pulled on a pass that was not an explicit up")
	}
	r.Always = true
	img, err := r.Image(ctx, always)
	if err != nil || img.Manifest == first.Manifest || *pulls != 2 {
		t.Errorf("always on up: %v, digest %s (old %s), %d pulls", err, img.Manifest, first.Manifest, *pulls)
	}
}

// TestServiceHealthyNeedsAHealthcheckOnceMerged: the loader lets
// service_healthy name a service with an image and no healthcheck; once the
// image is merged, one without HEALTHCHECK is an error naming the services
// and the image (instead of a dependent that waits forever), one with
// HEALTHCHECK resolves.
func TestServiceHealthyNeedsAHealthcheckOnceMerged(t *testing.T) {
	reg := imagetest.Registry(t)
	s := imagetest.BusyboxSpec(t)
	s.Config.Cmd = []string{"/bin/sleep", "1000"}
	plain, _ := ref.Normalize(reg.Push(t, "plain:1", imagetest.Build(t, s)))
	s.Config.Healthcheck = &v1.HealthConfig{Test: []string{"CMD", "/bin/true"}}
	checked, _ := ref.Normalize(reg.Push(t, "checked:1", imagetest.Build(t, s)))
	for _, tc := range []struct{ image, wantErr string }{
		{plain, "services.b.depends_on.a.condition: service a has no healthcheck and its image " + plain + " brings none (no HEALTHCHECK), so service_healthy can never be met"},
		{checked, ""},
	} {
		a := &spec.Service{Name: "a", Image: tc.image, PullPolicy: spec.PullMissing}
		b := &spec.Service{Name: "b", Command: []string{"true"},
			DependsOn: map[string]spec.Dependency{"a": {Condition: spec.ConditionHealthy}}}
		r, _ := newResolver(t)
		got, err := r.Project(context.Background(), project(a, b))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("image %s with HEALTHCHECK: %v", tc.image, err)
		case tc.wantErr == "" && got.Services["a"].Healthcheck == nil:
			t.Errorf("image %s with HEALTHCHECK: a has no healthcheck once resolved", tc.image)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("image %s without HEALTHCHECK: %v, want an error with %q", tc.image, err, tc.wantErr)
		}
	}
}

// TestPresentMergesOnlyWhatTheStoreHas: Present merges the config of the
// images the store has, names the services whose image it lacks, never
// pulls, and leaves the loaded project as it was.
func TestPresentMergesOnlyWhatTheStoreHas(t *testing.T) {
	reg := imagetest.Registry(t)
	have, _ := ref.Normalize(reg.Push(t, "app:1", appImage(t, "one")))
	lack, _ := ref.Normalize(reg.Push(t, "app:2", appImage(t, "two")))
	r, pulls := newResolver(t)
	if _, err := r.Image(context.Background(), &spec.Service{Name: "x", Image: have, PullPolicy: spec.PullMissing}); err != nil {
		t.Fatal(err)
	}
	*pulls = 0
	web := &spec.Service{Name: "web", Image: have}
	db := &spec.Service{Name: "db", Image: lack}
	hostSvc := &spec.Service{Name: "host", Command: []string{"true"}}
	got, missing := r.Present(project(web, db, hostSvc))
	if *pulls != 0 {
		t.Errorf("Present pulled %d times", *pulls)
	}
	if !slices.Equal(missing, []string{"db"}) {
		t.Errorf("missing %q, want [db]", missing)
	}
	if w := got.Services["web"]; w.User != "app" || !slices.Equal(w.Command, []string{"/bin/sh", "-c", "echo hi"}) {
		t.Errorf("web: user %q argv %q, want the image's", w.User, w.Command)
	}
	if got.Services["db"] != db || got.Services["host"] != hostSvc || web.User != "" {
		t.Error("Present changed services it could not resolve, or the loaded project")
	}
}
