package cgroups

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/testutil"

	"golang.org/x/sys/unix"
)

// unifiedMount finds a cgroup2 mount. On this project's hybrid test hosts it
// is /sys/fs/cgroup/unified: it has no controllers, so limits, stats and OOM
// cannot be exercised there, but the v2 backend's placement (AddProc and
// CLONE_INTO_CGROUP), process listing, cgroup.kill, Delete and Leaks can.
func unifiedMount(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p
		}
	}
	testutil.Require(t, false, "a cgroup2 mount")
	return ""
}

// On a pure v2 host the same checks run on a cgroup made by New.
func TestV2BackendOnUnifiedHierarchy(t *testing.T) {
	testutil.RequireRoot(t)
	mount := unifiedMount(t)
	root := testutil.TempRoot(t)
	group, err := groupPath(root, "v2test")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mount, group)
	var cg *Cgroup
	if mount == mountBase {
		if cg, err = New(root, "v2test", Resources{}); err != nil {
			t.Fatal(err)
		}
	} else {
		old := mountBase
		mountBase = mount
		t.Cleanup(func() { mountBase = old })
		// Controller-less: create the directory ourselves instead of
		// newV2, which would enable controllers this hierarchy does not have.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := loadV2(group)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.(*v2Backend).makeWorkload(); err != nil {
			t.Fatal(err)
		}
		cg = &Cgroup{id: "v2test", group: group, root: root, v2: true, b: b}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = cg.KillAll(ctx)
		if err := cg.Delete(); err != nil {
			t.Error(err)
		}
		assertNoLeaks(t, root)
	})
	if cg.Dir() != dir || cg.Paths()[""] != dir {
		t.Fatalf("Dir %q Paths %v, want %s", cg.Dir(), cg.Paths(), dir)
	}

	// Placement at clone time: clone3 with CLONE_INTO_CGROUP.
	fd, err := cg.FD()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `trap '' TERM
		sh -c "trap '' TERM; (trap '' TERM; while :; do sleep 1; done) & exit 0"
		while :; do sleep 1; done`)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	err = cmd.Start()
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	self, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if !strings.Contains(string(self), "0::"+group+"\n") {
		t.Errorf("child's /proc/PID/cgroup has no 0::%s line:\n%s", group, self)
	}
	// Placement after start: AddProc.
	other := exec.Command("/bin/sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	if err := cg.AddProc(other.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile("/proc/" + strconv.Itoa(other.Process.Pid) + "/cgroup"); !strings.Contains(string(b), "0::"+group+"/"+WorkloadLeaf+"\n") {
		t.Errorf("AddProc: /proc/PID/cgroup has no 0::%s/%s line:\n%s", group, WorkloadLeaf, b)
	}
	var procs []int
	for deadline := time.Now().Add(5 * time.Second); len(procs) < 4 && time.Now().Before(deadline); {
		procs, _ = cg.Procs()
		time.Sleep(10 * time.Millisecond)
	}
	if len(procs) < 4 {
		t.Fatalf("procs = %v, want the shell, its daemon, sleeps and the added sleep", procs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cg.KillAll(ctx); err != nil { // cgroup.kill
		t.Fatal(err)
	}
	_ = cmd.Wait()
	_ = other.Wait()
	for _, p := range procs {
		if testutil.Alive(p) {
			t.Errorf("pid %d survived cgroup.kill", p)
		}
	}
}
