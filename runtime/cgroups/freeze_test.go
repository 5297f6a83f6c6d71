package cgroups

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// TestV2FreezeFiles checks, on a plain directory standing in for a v2
// sandbox cgroup (this project's hosts have no v2 controllers; the v1
// freezer runs for real in TestCLIReplicaCommands), that pause writes
// cgroup.freeze of the sandbox cgroup, waits for cgroup.events to say
// frozen, and unpause writes 0.
func TestV2FreezeFiles(t *testing.T) {
	dir := t.TempDir()
	c := &Cgroup{group: "/sb", v2: true, b: &v2Backend{dir: dir, wdir: filepath.Join(dir, WorkloadLeaf)}}
	events := filepath.Join(dir, "cgroup.events")
	testutil.WriteFile(t, events, "populated 1\nfrozen 0\n")
	testutil.WriteFile(t, filepath.Join(dir, "cgroup.freeze"), "0\n")

	// The kernel reports frozen a little later: Freeze must wait for it.
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = os.WriteFile(events, []byte("populated 1\nfrozen 1\n"), 0o644)
	}()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Freeze(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("Freeze returned after %s, before cgroup.events said frozen", d)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.freeze")); string(b) != "1" {
		t.Errorf("cgroup.freeze = %q after Freeze, want 1", b)
	}
	if f, err := c.Frozen(); err != nil || !f {
		t.Errorf("Frozen = %v, %v; want true", f, err)
	}
	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.freeze")); string(b) != "0" {
		t.Errorf("cgroup.freeze = %q after Thaw, want 0", b)
	}
	testutil.WriteFile(t, events, "populated 1\nfrozen 0\n")
	if f, err := c.Frozen(); err != nil || f {
		t.Errorf("Frozen = %v, %v after thaw; want false", f, err)
	}

	// A freeze that never completes gives up with the context, saying so.
	short, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	if err := c.Freeze(short); err == nil {
		t.Error("Freeze returned nil while cgroup.events never said frozen")
	}
}
