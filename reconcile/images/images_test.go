package images_test

import (
	"context"
	"os"
	"testing"

	"nucleus/internal/rootdir"
	"nucleus/reconcile/images"
	"nucleus/spec"
)

// A project without images pays nothing: no store is opened or created
// by a supervisor's load, plan, ps, the release of a sandbox or down.
func TestProjectWithoutImagesCreatesNothing(t *testing.T) {
	root := rootdir.Resolve(t.TempDir())
	p := &spec.Project{Name: "p", Services: map[string]*spec.Service{"web": {Name: "web", Command: []string{"true"}}}}
	got, err := images.Supervisor(root)(context.Background(), p)
	if err != nil || got != p {
		t.Fatalf("Supervisor resolve: %v, %p (want the project itself %p)", err, got, p)
	}
	if got, missing, err := images.Peek(context.Background(), root, p); err != nil || got != p || missing != nil {
		t.Fatalf("Peek: %v %v", err, missing)
	}
	if err := images.Release(root, "p.web.0"); err != nil {
		t.Fatal(err)
	}
	if err := images.Forget(root, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root.Data); !os.IsNotExist(err) {
		t.Errorf("data root %s exists after the calls (err %v): something was created", root.Data, err)
	}
}
