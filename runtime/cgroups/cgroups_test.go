package cgroups

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"

	"golang.org/x/sys/unix"
)

// hogEnv makes the test binary, re-executed, allocate memory until killed.
const hogEnv = "NUCLEUS_CGROUPS_TEST_HOG"

func TestMain(m *testing.M) {
	if os.Getenv(hogEnv) != "" {
		hog()
	}
	os.Exit(m.Run())
}

// hog waits for a line on stdin (sent once it is in the cgroup), then
// touches 1 MiB after another, far past any limit the tests set.
func hog() {
	_, _ = io.ReadFull(os.Stdin, make([]byte, 1))
	var keep [][]byte
	for i := 0; i < 1024; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(j)
		}
		keep = append(keep, b)
	}
	fmt.Println("allocated 1 GiB without being killed", len(keep))
	os.Exit(0)
}

var seq atomic.Int64

// newTestCgroup creates a cgroup in a fresh root and registers cleanup
// that kills, deletes and proves the root left nothing behind.
func newTestCgroup(t *testing.T, r Resources) (rootdir.Root, *Cgroup) {
	t.Helper()
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	id := fmt.Sprintf("test-%d-%d", os.Getpid(), seq.Add(1))
	cg, err := New(root, id, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cg.KillAll(ctx); err != nil {
			t.Error(err)
		}
		if err := cg.Delete(); err != nil {
			t.Error(err)
		}
		assertNoLeaks(t, root)
	})
	return root, cg
}

func assertNoLeaks(t *testing.T, root rootdir.Root) {
	t.Helper()
	leaks, err := Leaks(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(leaks) > 0 {
		t.Errorf("cgroups left behind: %v", leaks)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// startInCgroup starts cmd and moves it into cg before it does anything:
// cmd must wait for a byte on stdin first.
func startInCgroup(t *testing.T, cg *Cgroup, cmd *exec.Cmd) {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := cg.AddProc(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
}

// ctlPath is the path of control file f of cg: v1 by the controller named
// in the file's prefix; v2 memory and cgroup.* files on the sandbox
// cgroup, cpu and pids on the workload leaf (see WorkloadLeaf).
func ctlPath(cg *Cgroup, f string) string {
	ctrl := strings.SplitN(f, ".", 2)[0]
	if !cg.V2() {
		return filepath.Join(cg.Paths()[ctrl], f)
	}
	if ctrl == "memory" || ctrl == "cgroup" {
		return filepath.Join(cg.Dir(), f)
	}
	return filepath.Join(cg.Dir(), WorkloadLeaf, f)
}

// dirsPerSandbox is how many cgroup directories one sandbox has.
func dirsPerSandbox(cg *Cgroup) int {
	if cg.V2() {
		return 2 // the sandbox cgroup and its workload leaf
	}
	return len(cg.Paths())
}

// pick chooses the expectation of the host's cgroup version.
func pick[T any](cg *Cgroup, v1, v2 T) T {
	if cg.V2() {
		return v2
	}
	return v1
}

func TestLimitsAndLiveUpdate(t *testing.T) {
	_, cg := newTestCgroup(t, Resources{Memory: 64 << 20, CPUs: 0.5, Pids: 32})
	for c, d := range cg.Paths() {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || !strings.HasSuffix(d, cg.Group()) {
			t.Errorf("controller %q: path %q: %v", c, d, err)
		}
	}
	_, swapErr := os.Stat(ctlPath(cg, pick(cg, "memory.memsw.limit_in_bytes", "memory.swap.max")))
	check := func(when string, want map[string]string) {
		t.Helper()
		for f, v := range want {
			if strings.Contains(f, "swap") || strings.Contains(f, "memsw") {
				if swapErr != nil {
					continue // no swap accounting on this host
				}
			}
			b, err := os.ReadFile(ctlPath(cg, f))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(b)); got != v {
				t.Errorf("%s: %s = %s, want %s", when, f, got, v)
			}
		}
	}
	// v1 and v2 spellings of the same limits.
	lim := func(mem, cpu, pids string) map[string]string {
		if cg.V2() {
			swap := "0"
			if mem == "max" {
				swap = "max"
			}
			return map[string]string{"memory.max": mem, "memory.swap.max": swap, "cpu.max": cpu + " 100000", "pids.max": pids}
		}
		m := map[string]string{"cpu.cfs_quota_us": cpu, "pids.max": pids}
		if cpu == "max" {
			m["cpu.cfs_quota_us"] = "-1"
		}
		if mem != "max" {
			m["memory.limit_in_bytes"], m["memory.memsw.limit_in_bytes"] = mem, mem
		}
		return m
	}
	check("created", lim("67108864", "50000", "32"))
	if cg.V2() {
		check("created", map[string]string{"cgroup.subtree_control": "cpu pids"})
		if got := readFile(t, filepath.Join(cg.Dir(), WorkloadLeaf), "cgroup.type"); got != "threaded" {
			t.Errorf("workload leaf cgroup.type = %s, want threaded", got)
		}
	} else {
		check("created", map[string]string{"cpu.cfs_period_us": "100000"})
	}
	s, err := cg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.MemoryLimit != 64<<20 || s.PidsLimit != 32 {
		t.Errorf("Stats limits = %+v", s)
	}

	// Grow memory (memsw must move first), unlimited pids, more CPU.
	if err := cg.Update(Resources{Memory: 128 << 20, CPUs: 1.5}); err != nil {
		t.Fatal(err)
	}
	check("grown", lim("134217728", "150000", "max"))
	// Shrink (limit must move first).
	if err := cg.Update(Resources{Memory: 16 << 20, CPUs: 0.25, Pids: 8}); err != nil {
		t.Fatal(err)
	}
	check("shrunk", lim("16777216", "25000", "8"))
	// Remove every limit.
	if err := cg.Update(Resources{}); err != nil {
		t.Fatal(err)
	}
	check("unlimited", lim("max", "max", "max"))
	if s, _ := cg.Stats(); s.MemoryLimit != 0 || s.PidsLimit != 0 {
		t.Errorf("unlimited Stats limits = %+v, want 0", s)
	}
}

func TestOOMKill(t *testing.T) {
	_, cg := newTestCgroup(t, Resources{Memory: 32 << 20})
	if k, err := cg.OOMKilled(); err != nil || k {
		t.Fatalf("OOMKilled before = %v, %v", k, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hogEnv+"=1")
	var out strings.Builder
	cmd.Stdout = &out
	startInCgroup(t, cg, cmd)
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("hog ended with %v (output %q), want killed", err, out.String())
	}
	k, err := cg.OOMKilled()
	if err != nil || !k {
		t.Errorf("OOMKilled after = %v, %v; want true", k, err)
	}
	s, _ := cg.Stats()
	if n, err := cg.OOMKills(); err != nil || n != 1 || s.OOMKills != 1 {
		t.Errorf("OOMKills = %d, %v (Stats %d); want 1", n, err, s.OOMKills)
	}
	t.Logf("after OOM: %+v", s)
}

func TestPidsLimit(t *testing.T) {
	const limit = 12
	_, cg := newTestCgroup(t, Resources{Pids: limit})
	// A fork loop: 50 background sleeps; forks beyond the limit fail.
	cmd := exec.Command("/bin/sh", "-c", `read x; i=0; while [ $i -lt 50 ]; do sleep 60 & i=$((i+1)); done; wait`)
	startInCgroup(t, cg, cmd)
	deadline := time.Now().Add(5 * time.Second)
	var events string
	for time.Now().Before(deadline) {
		events = readFile(t, filepath.Dir(ctlPath(cg, "pids.events")), "pids.events")
		if events != "max 0" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if events == "max 0" {
		t.Fatalf("no fork was refused: pids.events = %q", events)
	}
	procs, err := cg.Procs()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := cg.Stats()
	if len(procs) > limit || s.Pids > limit {
		t.Errorf("%d processes, %d tasks in a cgroup limited to %d", len(procs), s.Pids, limit)
	}
	t.Logf("pids.events %q, %d processes", events, len(procs))
}

// A workload that ignores SIGTERM and double-forks a daemon that ignores
// it too: KillAll must leave nothing.
func TestKillAllDoubleFork(t *testing.T) {
	_, cg := newTestCgroup(t, Resources{})
	cmd := exec.Command("/bin/sh", "-c", `read x; trap '' TERM
		sh -c "trap '' TERM; (trap '' TERM; while :; do sleep 1; done) & exit 0"
		while :; do sleep 1; done`)
	startInCgroup(t, cg, cmd)
	var procs []int
	deadline := time.Now().Add(5 * time.Second)
	for len(procs) < 3 && time.Now().Before(deadline) {
		procs, _ = cg.Procs()
		time.Sleep(10 * time.Millisecond)
	}
	if len(procs) < 3 {
		t.Fatalf("workload did not start its daemon: procs %v", procs)
	}
	for _, p := range procs {
		_ = unix.Kill(p, unix.SIGTERM)
	}
	time.Sleep(50 * time.Millisecond)
	if still, _ := cg.Procs(); len(still) < len(procs) {
		t.Fatalf("processes died of SIGTERM (%v -> %v); the test proves nothing", procs, still)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cg.KillAll(ctx); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // reap our direct child
	if left, _ := cg.Procs(); len(left) != 0 {
		t.Errorf("after KillAll: %v", left)
	}
	for _, p := range procs {
		if testutil.Alive(p) {
			t.Errorf("pid %d survived KillAll", p)
		}
	}
	if cg.V2() { // cgroup.kill: nothing frozen
		return
	}
	if st := readFile(t, cg.Paths()["freezer"], "freezer.state"); st != "THAWED" {
		t.Errorf("freezer.state = %s after KillAll", st)
	}
}

// A sandbox stopped twice — `down` after a cancelled pass's stop already
// tore it down — finds nothing to kill: KillAll and Delete of a removed
// cgroup succeed (before, KillAll failed on the missing cgroup.procs and
// down reported the project not down).
func TestKillAllAfterDelete(t *testing.T) {
	_, cg := newTestCgroup(t, Resources{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cg.KillAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cg.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := cg.KillAll(ctx); err != nil {
		t.Errorf("KillAll of a removed cgroup: %v, want nothing to kill", err)
	}
	if err := cg.Delete(); err != nil {
		t.Errorf("Delete of a removed cgroup: %v", err)
	}
}

func TestLoadDeleteAndLeaks(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	a, err := New(root, "a", Resources{Pids: 10})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(root, "b", Resources{})
	if err != nil {
		_ = a.Delete()
		t.Fatal(err)
	}
	leaks, _ := Leaks(root)
	// per controller: the parent and two sandboxes
	if want := len(a.Paths()) + 2*dirsPerSandbox(a); len(leaks) != want {
		t.Errorf("Leaks with two sandboxes: %d dirs, want %d: %v", len(leaks), want, leaks)
	}
	l, err := Load(root, "a")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(l.Paths()) != fmt.Sprint(a.Paths()) {
		t.Errorf("Load paths %v != New paths %v", l.Paths(), a.Paths())
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root, "a"); err == nil {
		t.Error("Load of a deleted cgroup succeeded")
	}
	leaks, _ = Leaks(root)
	if want := len(b.Paths()) + dirsPerSandbox(b); len(leaks) != want {
		t.Errorf("Leaks with one sandbox: %v, want %d dirs", leaks, want)
	}
	if err := b.Delete(); err != nil {
		t.Fatal(err)
	}
	assertNoLeaks(t, root)
	for _, d := range b.Paths() {
		if _, err := os.Stat(filepath.Dir(d)); !os.IsNotExist(err) {
			t.Errorf("parent %s still exists", filepath.Dir(d))
		}
	}
}

// Delete refuses while processes are inside (the kernel would, too) and
// leaves the cgroup intact.
func TestDeleteBusy(t *testing.T) {
	root, cg := newTestCgroup(t, Resources{})
	cmd := exec.Command("/bin/sh", "-c", "read x; sleep 60")
	startInCgroup(t, cg, cmd)
	if err := cg.Delete(); err == nil {
		t.Fatal("Delete of a busy cgroup succeeded")
	}
	// A second New for the same sandbox must not take over a live cgroup.
	if _, err := New(root, cg.id, Resources{}); err == nil || !strings.Contains(err.Error(), "already exists with processes") {
		t.Errorf("New over a busy cgroup: %v", err)
	}
	if _, err := cg.Procs(); err != nil {
		t.Errorf("cgroup damaged by the refused Delete: %v", err)
	}
}

// A busy loop under cpus: 0.02 is throttled to 2% of a CPU, and the usage
// shows up in Stats. (A small quota keeps the test meaningful on a loaded
// machine, where an unthrottled loop might not get more than 20% anyway.)
func TestCPUQuotaThrottles(t *testing.T) {
	_, cg := newTestCgroup(t, Resources{CPUs: 0.02})
	cmd := exec.Command("/bin/sh", "-c", "read x; while :; do :; done")
	startInCgroup(t, cg, cmd)
	const wall = 500 * time.Millisecond
	time.Sleep(wall)
	s, err := cg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// 2% of 0.5 s is 10 ms; allow a few periods of slack.
	if s.CPUUsec == 0 || s.CPUUsec > 30000 {
		t.Errorf("CPU time %d µs in %s at cpus 0.02, want about 10000", s.CPUUsec, wall)
	}
	if st := readFile(t, filepath.Dir(ctlPath(cg, "cpu.stat")), "cpu.stat"); !strings.Contains(st, "nr_throttled") || strings.Contains(st, "nr_throttled 0\n") {
		t.Errorf("never throttled: %s", st)
	}
	// (Memory is charged where a page was first touched: the shell's
	// pages stay with the cgroup it started in, so MemoryBytes may be 0.)
	if s.Pids < 1 {
		t.Errorf("Stats = %+v, want the shell counted", s)
	}
	t.Logf("%+v", s)
}

func TestNewRejectsBadIDWithoutTrace(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	if _, err := New(root, "../escape", Resources{}); err == nil {
		t.Fatal("New accepted ../escape")
	}
	assertNoLeaks(t, root)
	if _, err := Load(root, "never-created"); err == nil {
		t.Error("Load of a cgroup that never existed succeeded")
	}
	assertNoLeaks(t, root)
}

// Sandboxes of one root come and go concurrently: creating one while the
// last other one is deleted (which removes the per-root parent) must work.
func TestConcurrentNewAndDelete(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	done := make(chan error, 2)
	for w := 0; w < 2; w++ {
		go func(w int) {
			for i := 0; i < 100; i++ {
				cg, err := New(root, fmt.Sprintf("w%d-%d", w, i), Resources{Pids: 10})
				if err != nil {
					done <- err
					return
				}
				if err := cg.Delete(); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}(w)
	}
	for w := 0; w < 2; w++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	assertNoLeaks(t, root)
}

// TestDeleteOnReadOnlyRoot: a state root that went read-only (a file system
// error, a full disk remounted) must not keep the cgroups of its sandboxes:
// the lock Delete takes needs no write access.
func TestDeleteOnReadOnlyRoot(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	fs := testutil.MountSmallFS(t, root.Run, 64<<10)
	cg, err := New(root, fmt.Sprintf("ro-%d", os.Getpid()), Resources{Pids: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a test that stopped half-way
		fs.SetReadOnly(t, false)
		_ = cg.Delete()
	})
	fs.SetReadOnly(t, true)
	if err := cg.Delete(); err != nil {
		t.Errorf("Delete on a read-only state root: %v", err)
	}
	assertNoLeaks(t, root)
}

// TestNewOverLeftover: New without limits writes nothing into a cgroup it
// has just made (the kernel's defaults are no limits), but a directory left
// by an earlier sandbox of the same id (its creator killed before Delete)
// may hold that sandbox's limits: New must reset them.
func TestNewOverLeftover(t *testing.T) {
	root, fresh := newTestCgroup(t, Resources{})
	unlimited := func(cg *Cgroup, when string) {
		t.Helper()
		want := map[string]string{"cpu.cfs_quota_us": "-1", "pids.max": "max"}
		if cg.V2() {
			want = map[string]string{"memory.max": "max", "cpu.max": "max 100000", "pids.max": "max"}
		}
		for f, v := range want {
			if got := readFile(t, filepath.Dir(ctlPath(cg, f)), filepath.Base(f)); got != v {
				t.Errorf("%s: %s = %s, want %s", when, f, got, v)
			}
		}
		if !cg.V2() {
			got := readFile(t, cg.Paths()["memory"], "memory.limit_in_bytes")
			if n, err := strconv.ParseInt(got, 10, 64); err != nil || n < 1<<62 {
				t.Errorf("%s: memory.limit_in_bytes = %s, want unlimited", when, got)
			}
		}
	}
	unlimited(fresh, "new, no limits")

	id := fmt.Sprintf("test-%d-%d", os.Getpid(), seq.Add(1))
	old, err := New(root, id, Resources{Memory: 64 << 20, CPUs: 0.5, Pids: 32})
	if err != nil {
		t.Fatal(err)
	}
	// old's creator "died": its directories stay, and a new sandbox of the
	// same id is created over them.
	cg, err := New(root, id, Resources{})
	if err != nil {
		_ = old.Delete()
		t.Fatal(err)
	}
	unlimited(cg, "over a leftover with limits")
	if err := cg.Delete(); err != nil {
		t.Error(err)
	}
}
