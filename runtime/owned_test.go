package runtime

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestRemoveProjectSandboxes (issue 11, defect 9): the sandboxes of a
// project are found by the runtime's own records, whatever form their ids
// have, and removed with nothing left; another project's sandbox in the
// same root is untouched.
func TestRemoveProjectSandboxes(t *testing.T) {
	root := newRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := func(id, project string) *Sandbox {
		t.Helper()
		sb, err := Create(ctx, Config{ID: id, Root: root, Project: project, Service: service("/bin/busybox", "sleep", "600")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sb.Remove(context.Background()) })
		if err := sb.Start(); err != nil {
			t.Fatal(err)
		}
		return sb
	}
	// Both id forms, and a project whose name extends the other's.
	a1, a2 := start("pa-web-1", "pa"), start("pa.web.2", "pa")
	other := start("pa-web-x-1", "pa-web")

	ids, unreadable, err := ProjectSandboxes(root, "pa")
	slices.Sort(ids)
	if err != nil || !slices.Equal(ids, []string{"pa-web-1", "pa.web.2"}) || len(unreadable) > 0 {
		t.Fatalf("ProjectSandboxes(pa) = %v, %v, %v; want [pa-web-1 pa.web.2]", ids, unreadable, err)
	}
	removed, err := RemoveProjectSandboxes(ctx, root, "pa", func(id string) bool { return id == "pa.web.2" })
	if err != nil || !slices.Equal(removed, []string{"pa-web-1"}) {
		t.Fatalf("RemoveProjectSandboxes keeping pa.web.2 = %v, %v", removed, err)
	}
	removed, err = RemoveProjectSandboxes(ctx, root, "pa", nil)
	if err != nil || !slices.Equal(removed, []string{"pa.web.2"}) {
		t.Fatalf("RemoveProjectSandboxes = %v, %v", removed, err)
	}
	for _, sb := range []*Sandbox{a1, a2} {
		if left, err := Remains(root, sb.ID()); err != nil || len(left) > 0 {
			t.Errorf("left of %s: %v %v", sb.ID(), left, err)
		}
	}
	left, err := Remains(root, other.ID())
	if err != nil || len(left) < 3 || !slices.Contains(left, "init process "+strconv.Itoa(other.PID())) {
		t.Errorf("the other project's sandbox: %v %v; want its state, cgroup and init untouched", left, err)
	}
	if err := other.Remove(ctx); err != nil {
		t.Fatal(err)
	}
}
