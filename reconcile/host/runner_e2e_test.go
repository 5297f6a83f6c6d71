package host

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/runtime"
	"nucleus/spec"
)

const runnerYAML = `services:
  a:
    command: ["/bin/sleep", "1000"]
    environment: {MODE: MODE_A}
    stop_grace_period: 100ms
  b:
    command: ["/bin/sleep", "1000"]
    resources: {memory: MEM_B}
    stop_grace_period: 100ms
`

// TestRunnerHotReloadEndToEnd edits the project files under a running
// Runner with real sandboxes: a vim-style save restarts only the changed
// service, in one pass; an invalid save changes nothing and records the
// error with its position; the fix is applied (live); sed -i is one pass.
func TestRunnerHotReloadEndToEnd(t *testing.T) {
	e := newE2E(t)
	file := filepath.Join(e.dir, "nucleus.yaml")
	write := func(modeA, memB string) {
		t.Helper()
		y := strings.NewReplacer("MODE_A", modeA, "MEM_B", memB).Replace(runnerYAML)
		tmp := filepath.Join(e.dir, ".nucleus.yaml.tmp") // vim-style: temporary file, then rename
		testutil.WriteFile(t, tmp, y)
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write("one", "64M")
	var passes atomic.Int32
	var mu sync.Mutex
	var passStarts []time.Time
	sv := e.supervisor()
	r := &reconcile.Runner{
		Load: func() (*spec.Project, error) {
			return spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: e.project})
		},
		Supervisor: sv, Watch: true,
		OnPass: func(res reconcile.PassResult) {
			passes.Add(1)
			mu.Lock()
			passStarts = append(passStarts, time.Now().Add(-res.Duration))
			mu.Unlock()
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := e.supervisor().Down(context.Background()); err != nil {
			t.Error(err)
		}
		leaktest.Check(t, e.root)
	}()
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	first := e.pids()
	if len(first) != 2 {
		t.Fatalf("running %v, want a-1 and b-1", first)
	}
	store := reconcile.NewStore(e.root)
	waitUntil := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	settle := func() { time.Sleep(2500 * time.Millisecond) } // longer than the debounce's max delay

	// passAfter is how long after w the first pass that started after it
	// started: the debounce's wait, without the restart's own cost.
	passAfter := func(w time.Time) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range passStarts {
			if s.After(w) {
				return s.Sub(w)
			}
		}
		return time.Hour
	}

	// 1. Vim-style saves changing a's environment: a restarts, b does not,
	// each save is one pass, and the pass starts on the write's event, not
	// at the debounce's 2.5 s ceiling.
	var latencies, waits []time.Duration
	prev := first["a-1"]
	for i, mode := range []string{"two", "three", "four"} {
		n := passes.Load()
		w := time.Now()
		write(mode, "64M")
		d := waitUntil("a to be restarted", func() bool { p := e.livePids()["a-1"]; return p != 0 && p != prev })
		// OnPass reports a pass when it ends, which may be after a runs.
		waitUntil("the pass to be reported", func() bool { return passAfter(w) < time.Hour })
		latencies, waits = append(latencies, d), append(waits, passAfter(w))
		prev = e.livePids()["a-1"]
		if i == 0 {
			settle()
			if got := passes.Load() - n; got != 1 {
				t.Errorf("a vim-style save caused %d passes, want 1", got)
			}
		} else {
			time.Sleep(500 * time.Millisecond)
		}
	}
	slices.Sort(latencies)
	slices.Sort(waits)
	t.Logf("write -> pass started: %v; write -> changed service running its new configuration: %v (median %v)", waits, latencies, latencies[1])
	// The 500 ms target is bench/reconcile.sh's (timed side by side). Here
	// only the pass's start is bounded: it follows the write's event, not
	// the debounce's 2.5 s ceiling. The restart itself is not timed: on a
	// loaded machine in the emulated VM it alone took over 2 s.
	if waits[1] >= 2*time.Second {
		t.Errorf("median wait from the write to the pass %v: the pass came from the debounce's ceiling, not the write's event", waits[1])
	}
	second := e.pids()
	if second["b-1"] != first["b-1"] {
		t.Errorf("b was restarted (pid %d -> %d) by changes to a", first["b-1"], second["b-1"])
	}

	// 2. Invalid YAML: nothing changes, the error is recorded with its position.
	testutil.WriteFile(t, file, "services:\n  a:\n    comand: [x]\n")
	waitUntil("the load error in the project record", func() bool {
		pr, _ := store.LoadProject(e.project)
		return pr != nil && strings.Contains(pr.LastError, "nucleus.yaml:3:5")
	})
	settle()
	if now := e.pids(); now["a-1"] != second["a-1"] || now["b-1"] != second["b-1"] {
		t.Errorf("an invalid file changed what runs: %v -> %v", second, now)
	}

	// 3. The fix (with a memory change for b) is applied live.
	write("four", "128M")
	waitUntil("the fix to be applied", func() bool {
		pr, _ := store.LoadProject(e.project)
		return pr != nil && pr.LastError == ""
	})
	// The workload's view (on v2 the cgroup also holds the init's budget).
	waitUntil("b's new memory limit", func() bool {
		st, err := runtime.CgroupStats(e.root, reconcile.Ident{Project: e.project, Service: "b", Index: 1}.ID())
		return err == nil && st.MemoryLimit == 128<<20
	})
	if now := e.pids(); now["a-1"] != second["a-1"] || now["b-1"] != second["b-1"] {
		t.Errorf("a live change restarted something: %v -> %v", second, now)
	}

	// 4. sed -i: one pass, a restarted.
	settle()
	n := passes.Load()
	if out, err := exec.Command("sed", "-i", "s/MODE: four/MODE: five/", file).CombinedOutput(); err != nil {
		t.Fatalf("sed -i: %v %s", err, out)
	}
	waitUntil("a to be restarted after sed -i", func() bool { p := e.livePids()["a-1"]; return p != 0 && p != second["a-1"] })
	settle()
	if got := passes.Load() - n; got != 1 {
		t.Errorf("sed -i caused %d passes, want 1", got)
	}
	pr, _ := store.LoadProject(e.project)
	if pr == nil || len(pr.History) == 0 || pr.History[0].Steps != 1 || pr.Digest == "" {
		t.Errorf("project record history %+v", pr)
	}
}
