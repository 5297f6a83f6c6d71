package runtime

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
)

// releaseIDRanges gives back every range of root and checks that the
// host-wide registry holds no lease of it any more.
func releaseIDRanges(t testing.TB, root rootdir.Root) {
	t.Helper()
	r, _ := readIDRanges(filepath.Join(root.Data, "idranges.json"))
	for p := range r.Projects {
		if err := ReleaseProjectIDRange(root, p); err != nil {
			t.Errorf("release id range of %s: %v", p, err)
		}
	}
	for _, l := range leasesOf(t, root) {
		t.Errorf("id range lease left behind: %+v", l)
	}
}

// leasesOf lists the registry's leases held by root.
func leasesOf(t testing.TB, root rootdir.Root) []idLease {
	t.Helper()
	data, _ := filepath.Abs(root.Data)
	files, _ := filepath.Glob(filepath.Join(IDRegistryDir, "*.json"))
	var out []idLease
	for _, f := range files {
		var l idLease
		b, err := os.ReadFile(f)
		if err == nil && json.Unmarshal(b, &l) == nil && l.Data == data {
			out = append(out, l)
		}
	}
	return out
}

// Two state roots never share a range, even when everything that used to
// spread them (the run directory) is the same and the project name too.
func TestIDRangesDisjointAcrossRoots(t *testing.T) {
	a := newRoot(t)
	b := rootdir.Root{Run: a.Run, Data: filepath.Join(t.TempDir(), "data")}
	t.Cleanup(func() { releaseIDRanges(t, b) })
	ba, err := ProjectIDRange(a, "web")
	if err != nil {
		t.Fatal(err)
	}
	bb, err := ProjectIDRange(b, "web")
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := min(ba, bb), max(ba, bb); hi-lo < IDRangeSize {
		t.Fatalf("roots share ids: web of a at %d, web of b at %d", ba, bb)
	}
	if again, err := ProjectIDRange(a, "web"); err != nil || again != ba {
		t.Errorf("range of a/web moved: %d -> %d (%v)", ba, again, err)
	}
	if ls := leasesOf(t, a); len(ls) != 1 || ls[0].Base != ba || ls[0].Project != "web" {
		t.Errorf("leases of a = %+v, want one for web at %d", ls, ba)
	}
	st, err := os.Stat(IDRegistryDir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("registry %s: %v %v, want a 0700 directory", IDRegistryDir, st, err)
	}
}

// A root that disappears without releasing (a removed test root) loses its
// lease at the next allocation anywhere on the host.
func TestIDRangeLeaseOfRemovedRootIsPruned(t *testing.T) {
	testutil.RequireRoot(t)
	gone := rootdir.Root{Run: t.TempDir(), Data: filepath.Join(t.TempDir(), "data")}
	base, err := ProjectIDRange(gone, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(leasesOf(t, gone)) != 1 {
		t.Fatalf("no lease for %s", gone.Data)
	}
	if err := os.RemoveAll(gone.Data); err != nil {
		t.Fatal(err)
	}
	other := newRoot(t)
	if _, err := ProjectIDRange(other, "p"); err != nil {
		t.Fatal(err)
	}
	if ls := leasesOf(t, gone); len(ls) != 0 {
		t.Errorf("lease of the removed root (base %d) still held: %+v", base, ls)
	}
}

// BenchmarkProjectIDRange is what every Create under `userns: private` pays
// for a project that has its range already.
func BenchmarkProjectIDRange(b *testing.B) {
	testutil.RequireRoot(b)
	root := testutil.TempRoot(b)
	b.Cleanup(func() { releaseIDRanges(b, root) })
	for b.Loop() {
		if _, err := ProjectIDRange(root, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLiveMappedRangeIsSeen: a range mapped into a user namespace by
// another tool's live process (here a process in a user namespace mapped to a range) is seen by
// the /proc walk that allocation checks (overlaps) before handing one out.
func TestLiveMappedRangeIsSeen(t *testing.T) {
	testutil.RequireRoot(t)
	const base = idSpaceStart + 7*IDRangeSize
	cmd := exec.Command("sleep", "60")
	m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: base, Size: IDRangeSize}}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: m, GidMappings: m}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a process in a user namespace: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for !overlaps(liveMappedRanges(), base) {
		if time.Now().After(deadline) {
			t.Fatalf("range %d mapped by pid %d not found among %v", base, cmd.Process.Pid, liveMappedRanges())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range liveMappedRanges() {
		if r[0] == 0 && r[1] >= 1<<32-1 {
			t.Fatalf("the initial namespace's identity map counts as in use: %v", r)
		}
	}
}

func BenchmarkLiveMappedRanges(b *testing.B) {
	for i := 0; i < b.N; i++ {
		liveMappedRanges()
	}
}
