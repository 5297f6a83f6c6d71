package host

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/image/imagetest"
	"nucleus/reconcile"
	"nucleus/reconcile/images"
	"nucleus/spec"
)

// TestImageTreePassesTheHostPathPolicy: under a host-path policy that
// refuses every path (the daemon's CheckSource), an image service still
// starts, since its root is the image store's tree, leased to the sandbox
// while it runs; a bind volume of the same kind of service is still
// judged, and refused. Down releases the lease.
func TestImageTreePassesTheHostPathPolicy(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	imagetest.WriteLayout(t, filepath.Join(e.dir, "img"), imagetest.Busybox(t), "1")
	p := e.loadYAML(`services:
  app:
    image: oci:./img:1
    command: ["/bin/sleep", "1000"]
    stop_signal: SIGKILL
  vol:
    image: oci:./img:1
    command: ["/bin/sleep", "1000"]
    volumes: ["./img:/mnt:ro"]
    restart: "no"
`)
	p, err := images.Supervisor(e.root)(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused by the test's policy")
	sv := e.supervisor()
	defer sv.Close()
	sv.Runtime = Runtime{Root: e.root, CheckSource: func(svc *spec.Service, target, real string) error { return refused }}
	e.downAtEnd(sv)
	if _, err := sv.Pass(ctx, p); err == nil || !strings.Contains(err.Error(), refused.Error()) {
		t.Fatalf("pass: %v, want vol's bind volume refused", err)
	}
	store := reconcile.NewStore(e.root)
	if rec, err := store.LoadSandbox(e.project, "app", 1); err != nil || rec == nil || !rec.State.Alive() {
		t.Fatalf("app under the refusing policy: %+v (%v), want it running on the image's tree", rec, err)
	}
	leases, _ := filepath.Glob(filepath.Join(e.root.Data, "images", "leases", "*", "*"))
	if len(leases) != 1 {
		t.Errorf("leases %v, want app's only (vol never started)", leases)
	}
	if err := sv.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(e.root.Data, "images", "leases", "*", "*")); len(left) > 0 {
		t.Errorf("leases left after down: %v", left)
	}
}
