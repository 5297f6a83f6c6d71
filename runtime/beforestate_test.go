package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BeforeState runs before the sandbox has a state directory; its error
// fails Create and leaves nothing behind (the cloned init is gone too, which
// newRoot's leak check asserts).
func TestBeforeStateRunsFirstAndItsErrorLeavesNothing(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	var dirExisted bool
	refuse := errors.New("owner record refused")
	cfg := Config{ID: "bs1", Service: service("/bin/true"), Root: root, BeforeState: func() error {
		_, err := os.Stat(sandboxDir(root.Run, "bs1"))
		dirExisted = err == nil
		return refuse
	}}
	if _, err := Create(ctx, cfg); !errors.Is(err, refuse) {
		t.Fatalf("Create: %v, want the BeforeState error", err)
	}
	if dirExisted {
		t.Error("state directory existed when BeforeState ran")
	}
	if _, err := os.Stat(sandboxDir(root.Run, "bs1")); !os.IsNotExist(err) {
		t.Errorf("state directory after the failed Create: %v", err)
	}

	// And when it succeeds, the sandbox runs as usual.
	ran := false
	cfg.BeforeState = func() error { ran = true; return nil }
	if r := run(t, cfg); r.st.Code != 0 || !ran {
		t.Errorf("with BeforeState ok: exit %+v, ran %v", r.st, ran)
	}
}

// A second Create of a live sandbox's id fails and leaves the first one
// whole: its state directory, and the id range of its own project.
func TestCreateOfATakenIDLeavesTheOtherSandboxAlone(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	first, err := Create(ctx, Config{ID: "taken", Service: service("/bin/true"), Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Remove(ctx)
	base := first.Record().HostUID
	if _, err := Create(ctx, Config{ID: "taken", Service: service("/bin/true"), Root: root}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Create: %v, want already exists", err)
	}
	if _, err := os.Stat(sandboxDir(root.Run, "taken")); err != nil {
		t.Errorf("first sandbox's state after the failed Create: %v", err)
	}
	if got, err := ProjectIDRange(root, "_taken"); err != nil || int(got) != base {
		t.Errorf("first sandbox's id range after the failed Create: %d, %v; want %d", got, err, base)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	if st, err := first.Wait(); err != nil || st.Code != 0 {
		t.Errorf("first sandbox after the failed Create: %+v, %v", st, err)
	}
}

// A run killed inside its own Remove can leave a record whose cgroup is
// gone: with its init dead, RemoveAbandoned still removes what is left.
func TestRemoveAbandonedWithoutItsCgroup(t *testing.T) {
	root := newRoot(t)
	dir := sandboxDir(root.Run, "half-removed")
	if err := os.MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(Record{ID: "half-removed", PID: 1 << 22, StartTime: 1, StateDir: dir})
	if err := os.WriteFile(filepath.Join(dir, "record.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RemoveAbandoned(context.Background(), root, "half-removed"); err != nil {
		t.Fatalf("RemoveAbandoned: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state directory after RemoveAbandoned: %v", err)
	}
}
