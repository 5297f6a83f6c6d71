package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/spec"
)

// BenchmarkUp20 times one supervisor pass that brings up a 20-service
// project (no health checks) on a kernel-NAT network, from nothing to all
// running; down is not timed.
func BenchmarkUp20(b *testing.B) {
	testutil.RequireRoot(b)
	var y strings.Builder
	y.WriteString("services:\n")
	for i := range 20 {
		fmt.Fprintf(&y, "  s%02d:\n    command: [\"/bin/sleep\", \"1000\"]\n    stop_signal: SIGKILL\n    stop_grace_period: 100ms\n", i)
	}
	dir := b.TempDir()
	file := filepath.Join(dir, "nucleus.yaml")
	if err := os.WriteFile(file, []byte(y.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	p, err := spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: fmt.Sprintf("bu%d", os.Getpid()%100000)})
	if err != nil {
		b.Fatal(err)
	}
	root := testutil.TempRoot(b)
	mgr, err := network.NewManager(root)
	if err != nil {
		b.Fatal(err)
	}
	e := &e2e{root: root, project: p.Name, mgr: mgr}
	ctx := context.Background()
	for b.Loop() {
		sv := e.supervisor()
		sv.Parallel = 8
		if _, err := sv.Pass(ctx, p); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := sv.Down(ctx); err != nil {
			b.Fatal(err)
		}
		sv.Close()
		b.StartTimer()
	}
	b.StopTimer()
	leaktest.Check(b, root)
}
