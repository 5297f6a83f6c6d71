package imagelease_test

import (
	"context"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/reconcile/imagelease"
	"nucleus/reconcile/oneoff"
)

func TestRunHolderAliveWhileItsProcessOwnsTheRun(t *testing.T) {
	root := testutil.TempRoot(t)
	alive := imagelease.Alive(root)
	if alive("run-lease1") {
		t.Fatal("a run with no record counts as alive")
	}
	if alive("proj.web.1") {
		t.Fatal("a replica with neither sandbox nor supervisor counts as alive")
	}
	run, err := oneoff.Begin(context.Background(), root, "run-lease1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !alive("run-lease1") {
		t.Error("a run whose owner (this process) lives counts as gone")
	}
	if err := run.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	if alive("run-lease1") {
		t.Error("a run that ended counts as alive")
	}
}
