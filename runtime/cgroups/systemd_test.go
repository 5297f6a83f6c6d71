package cgroups

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

// systemd removes an empty scope's cgroup at once: the backend keeps the
// last OOM count it saw, and a missing cgroup counts as empty.
func TestSystemdBackendOutlivesItsCgroup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nucleus-x-1-00000000.scope")
	if err := os.MkdirAll(filepath.Join(dir, WorkloadLeaf), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(f, s string) {
		testutil.WriteFile(t, filepath.Join(dir, f), s)
	}
	write("memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n")
	write("cgroup.procs", "12\n")
	b := &systemdBackend{v2Backend: &v2Backend{dir: dir, wdir: filepath.Join(dir, WorkloadLeaf)}}
	b.watchOOM()
	if n, err := b.oomKills(); err != nil || n != 1 {
		t.Fatalf("oomKills = %d, %v; want 1", n, err)
	}
	// A change seen through inotify (the kernel's notification on a
	// regular file: a write).
	write("memory.events", "low 0\nhigh 0\nmax 9\noom 3\noom_kill 2\n")
	deadline := time.Now().Add(5 * time.Second)
	for b.oomLast.Load() != 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := b.oomLast.Load(); got != 2 {
		t.Errorf("after the change the watcher saw %d, want 2", got)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if n, err := b.oomKills(); err != nil || n != 2 {
		t.Errorf("oomKills of a removed cgroup = %d, %v; want the last count 2", n, err)
	}
	if p, err := b.procs(); err != nil || len(p) != 0 {
		t.Errorf("procs of a removed cgroup = %v, %v; want none", p, err)
	}
	if !gone(&os.PathError{Op: "read", Path: "cgroup.procs", Err: unix.ENODEV}) {
		t.Error("ENODEV (a cgroup file removed while open) does not count as gone")
	}
	b.oomMu.Lock()
	if b.oomWatch != nil {
		b.oomWatch.Close()
	}
	b.oomMu.Unlock()
}
