package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	"nucleus/internal/testutil"

	"golang.org/x/sys/unix"
)

// TestV2FilesOnFakeHierarchy drives the v2 backend (New, Update, Stats,
// OOMKilled) against a plain directory laid out like a unified hierarchy.
// It is a stand-in, used only because this project's test hosts have no v2
// controllers: it checks which files nucleus writes with which values and
// how it reads the kernel's answers, not that a kernel enforces them.
func TestV2FilesOnFakeHierarchy(t *testing.T) {
	base := t.TempDir()
	oldBase, oldV2 := mountBase, useV2
	mountBase, useV2 = base, func() bool { return true }
	t.Cleanup(func() { mountBase, useV2 = oldBase, oldV2 })

	root := testutil.TempRoot(t)
	parent := filepath.Join(base, parentName(root))
	dir := filepath.Join(parent, "sb")
	write := func(p, s string) { testutil.WriteFile(t, p, s) }
	// What the kernel provides in a fresh cgroup (as far as we read it).
	write(filepath.Join(base, "cgroup.subtree_control"), "")
	write(filepath.Join(parent, "cgroup.subtree_control"), "")
	wdir := filepath.Join(dir, WorkloadLeaf)
	write(filepath.Join(dir, "cgroup.procs"), "")
	write(filepath.Join(dir, "cgroup.controllers"), "cpu memory pids\n")
	write(filepath.Join(dir, "memory.swap.max"), "max\n")
	write(filepath.Join(dir, "memory.max"), "max\n")
	write(filepath.Join(wdir, "cpu.stat"), "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n")
	write(filepath.Join(dir, "memory.stat"), "anon 4096\nfile 0\n")
	write(filepath.Join(dir, "memory.current"), "1048576\n")
	write(filepath.Join(wdir, "pids.current"), "3\n")
	write(filepath.Join(dir, "memory.events"), "low 0\nhigh 0\nmax 2\noom 0\noom_kill 0\n")

	cg, err := New(root, "sb", Resources{Memory: 256 << 20, CPUs: 0.5, Pids: 64})
	if err != nil {
		t.Fatal(err)
	}
	if !cg.V2() || cg.Dir() != dir || cg.Paths()[""] != dir {
		t.Fatalf("V2 %v Dir %q Paths %v", cg.V2(), cg.Dir(), cg.Paths())
	}
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	expect := func(when string, want map[string]string) {
		t.Helper()
		for f, v := range want {
			// cpu and pids are threaded controllers: on the workload leaf
			d := dir
			if f == "cpu.max" || f == "pids.max" {
				d = wdir
			}
			if got := read(filepath.Join(d, f)); got != v {
				t.Errorf("%s: %s = %q, want %q", when, f, got, v)
			}
		}
	}
	expect("created", map[string]string{"cpu.max": "50000 100000", "memory.max": "268435456", "memory.swap.max": "0", "pids.max": "64"})
	for _, p := range []string{base, parent} {
		if got := read(filepath.Join(p, "cgroup.subtree_control")); got != "+cpu +memory +pids" {
			t.Errorf("%s/cgroup.subtree_control = %q, want the three controllers enabled", p, got)
		}
	}
	if got := read(filepath.Join(dir, "cgroup.subtree_control")); got != "+cpu +pids" {
		t.Errorf("sandbox cgroup.subtree_control = %q, want the threaded controllers for the workload leaf", got)
	}
	if got := read(filepath.Join(wdir, "cgroup.type")); got != "threaded" {
		t.Errorf("workload leaf cgroup.type = %q, want threaded", got)
	}
	if got := cg.JoinFiles(); len(got) != 1 || got[0] != filepath.Join(wdir, "cgroup.threads") {
		t.Errorf("JoinFiles = %v, want the workload leaf's cgroup.threads", got)
	}

	s, err := cg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{CPUUsec: 1234, MemoryBytes: 1 << 20, MemoryLimit: 256 << 20, Pids: 3, PidsLimit: 64, OOMKills: 0}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
	if k, err := cg.OOMKilled(); err != nil || k {
		t.Errorf("OOMKilled with oom_kill 0 = %v, %v", k, err)
	}
	write(filepath.Join(dir, "memory.events"), "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n")
	if k, err := cg.OOMKilled(); err != nil || !k {
		t.Errorf("OOMKilled with oom_kill 2 = %v, %v", k, err)
	}
	if n, err := cg.OOMKills(); err != nil || n != 2 {
		t.Errorf("OOMKills with oom_kill 2 = %v, %v", n, err)
	}

	if err := cg.Update(Resources{}); err != nil {
		t.Fatal(err)
	}
	expect("unlimited", map[string]string{"cpu.max": "max 100000", "memory.max": "max", "memory.swap.max": "max", "pids.max": "max"})
	if s, _ := cg.Stats(); s.MemoryLimit != 0 || s.PidsLimit != 0 {
		t.Errorf("unlimited Stats limits = %+v, want 0", s)
	}
	if err := cg.Update(Resources{Memory: 64 << 20, CPUs: 2}); err != nil {
		t.Fatal(err)
	}
	expect("updated", map[string]string{"cpu.max": "200000 100000", "memory.max": "67108864", "memory.swap.max": "0", "pids.max": "max"})
	fd, err := cg.FD()
	if err != nil {
		t.Fatalf("FD on v2: %v", err)
	}
	unix.Close(fd)
}
