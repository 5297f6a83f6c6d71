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
	svc := service("/bin/true")
	svc.Limits.Memory, svc.Limits.CPUs, svc.Limits.Pids = 256<<20, 0.5, 128
	benchSandbox(b, Config{Service: svc})
}

// BenchmarkRootfsTrue: the same from a busybox rootfs, read-only, with a
// tmpfs writable layer, and with a writable layer in an upper directory
// (one, reused: the incarnations of a replica). read-only-missing: a
// read-only root lacking a tmpfs volume's target, which gets a tmpfs layer
// for the mount point (the rootfs itself is never written).
func BenchmarkRootfsTrue(b *testing.B) {
	rootfs := testutil.BusyboxRootfs(b)
	cache := []ResolvedMount{{Type: MountTmpfs, Target: "/cache", Size: 1 << 20}}
	for _, c := range []struct {
		name     string
		readOnly bool
		upper    string
		mounts   []ResolvedMount
	}{{"read-only", true, "", nil}, {"read-only-missing", true, "", cache},
		{"tmpfs", false, "", nil}, {"upper", false, b.TempDir() + "/web-1", nil}} {
		b.Run(c.name, func(b *testing.B) {
			svc := service("/bin/true")
			svc.Rootfs, svc.ReadOnly = rootfs, c.readOnly
			benchSandbox(b, Config{Service: svc, UpperDir: c.upper, Mounts: c.mounts})
		})
	}
}

// benchSandbox creates, starts, waits for and removes sandboxes of cfg in
// a loop, in a fresh root of project "bench".
func benchSandbox(b *testing.B, cfg Config) {
	testutil.RequireRoot(b)
	root := testutil.TempRoot(b)
	ctx := context.Background()
	cfg.Root, cfg.Project, cfg.Stdout = root, "bench", os.Stderr
	for i := 0; b.Loop(); i++ {
		cfg.ID = fmt.Sprintf("b%d", i)
		sb, err := Create(ctx, cfg)
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
