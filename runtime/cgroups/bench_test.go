package cgroups

import (
	"fmt"
	"testing"

	"nucleus/internal/testutil"
)

// BenchmarkNewDelete is the cgroup share of a sandbox's start and stop:
// create with memory, CPU and pids limits, then delete (empty).
func BenchmarkNewDelete(b *testing.B) {
	testutil.RequireRoot(b)
	root := testutil.TempRoot(b)
	i := 0
	for b.Loop() {
		i++
		cg, err := New(root, fmt.Sprintf("bench-%d", i), Resources{Memory: 256 << 20, CPUs: 0.5, Pids: 128})
		if err != nil {
			b.Fatal(err)
		}
		if err := cg.Delete(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if l, _ := Leaks(root); len(l) > 0 {
		b.Fatalf("leaked %v", l)
	}
}

// BenchmarkStats is what `nucleus ps` pays per sandbox.
func BenchmarkStats(b *testing.B) {
	testutil.RequireRoot(b)
	root := testutil.TempRoot(b)
	cg, err := New(root, "bench-stats", Resources{Memory: 256 << 20, Pids: 128})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := cg.Delete(); err != nil {
			b.Error(err)
		}
		if l, err := Leaks(root); err != nil || len(l) > 0 {
			b.Errorf("left behind: %v %v", l, err)
		}
	})
	for b.Loop() {
		if _, err := cg.Stats(); err != nil {
			b.Fatal(err)
		}
	}
}
