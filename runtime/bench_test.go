package runtime

import (
	"context"
	"fmt"
	"os"
	"testing"

	"nucleus/internal/testutil"
)

// BenchmarkSandboxTrue is the library side of `nucleus run --rm -- /bin/true`:
// Create, Start, Wait and Remove with full default isolation and limits.
// (bench/run.sh times the whole command against runc and bwrap.)
func BenchmarkSandboxTrue(b *testing.B) {
	testutil.RequireRoot(b)
	root := testutil.TempRoot(b)
	ctx := context.Background()
	svc := service("/bin/true")
	svc.Limits.Memory, svc.Limits.CPUs, svc.Limits.Pids = 256<<20, 0.5, 128
	for i := 0; b.Loop(); i++ {
		sb, err := Create(ctx, Config{ID: fmt.Sprintf("b%d", i), Root: root, Project: "bench", Service: svc, Stdout: os.Stderr})
		if err != nil {
			b.Fatal(err)
		}
		if err := sb.Start(); err != nil {
			b.Fatal(err)
		}
		if st, err := sb.Wait(); err != nil || st.Code != 0 {
			b.Fatalf("%+v %v", st, err)
		}
		if err := sb.Remove(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if leaks, err := LeakCheck(root); err != nil || len(leaks) > 0 {
		b.Errorf("leaks %v %v", leaks, err)
	}
	releaseIDRanges(b, root)
}
