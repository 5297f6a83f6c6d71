package reconcile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// watchFixture is a project directory with nucleus.yaml and an env file in
// another directory, watched with the default debounce.
type watchFixture struct {
	dir, yaml, envDir, env string
	w                      *Watcher
}

func newWatchFixture(t *testing.T) *watchFixture {
	t.Helper()
	base := t.TempDir()
	f := &watchFixture{dir: filepath.Join(base, "proj"), envDir: filepath.Join(base, "shared")}
	f.yaml = filepath.Join(f.dir, "nucleus.yaml")
	f.env = filepath.Join(f.envDir, "web.env")
	for _, d := range []string{f.dir, f.envDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WriteFile(t, f.yaml, "services:\n  web:\n    command: [sleep, infinity]\n")
	testutil.WriteFile(t, f.env, "MODE=dev\n")
	w, err := NewWatcher(f.dir, []string{f.yaml, f.env}, WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	f.w = w
	return f
}

// count counts change signals from now until window has passed.
func count(w *Watcher, window time.Duration) int {
	n := 0
	deadline := time.After(window)
	for {
		select {
		case <-w.C():
			n++
		case <-deadline:
			return n
		}
	}
}

func TestWatchVimStyleSave(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t)
	// What vim does with writebackup and backupcopy=no: probe file, swap
	// file, backup by rename, new file, write, remove backup.
	testutil.WriteFile(t, filepath.Join(f.dir, "4913"), "")
	os.Remove(filepath.Join(f.dir, "4913"))
	testutil.WriteFile(t, filepath.Join(f.dir, ".nucleus.yaml.swp"), "swap")
	if err := os.Rename(f.yaml, f.yaml+"~"); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, f.yaml, "services:\n  web:\n    command: [sleep, '1000']\n")
	os.Remove(f.yaml + "~")
	os.Remove(filepath.Join(f.dir, ".nucleus.yaml.swp"))
	if n := count(f.w, 1500*time.Millisecond); n != 1 {
		t.Fatalf("vim-style save gave %d changes, want 1", n)
	}
}

func TestWatchTempRenameSave(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t)
	tmp := filepath.Join(f.dir, "nucleus.yaml.tmp")
	testutil.WriteFile(t, tmp, "services:\n  web:\n    command: [sleep, '2000']\n")
	if err := os.Rename(tmp, f.yaml); err != nil {
		t.Fatal(err)
	}
	if n := count(f.w, 1500*time.Millisecond); n != 1 {
		t.Fatalf("write-temporary-and-rename save gave %d changes, want 1", n)
	}
}

func TestWatchSedInPlace(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t)
	if out, err := exec.Command("sed", "-i", "s/infinity/3000/", f.yaml).CombinedOutput(); err != nil {
		t.Fatalf("sed -i: %v: %s", err, out)
	}
	if n := count(f.w, 1500*time.Millisecond); n != 1 {
		t.Fatalf("sed -i gave %d changes, want 1", n)
	}
	// The watch survives the inode change: a second edit is seen too.
	if out, err := exec.Command("sed", "-i", "s/3000/4000/", f.yaml).CombinedOutput(); err != nil {
		t.Fatalf("sed -i: %v: %s", err, out)
	}
	if n := count(f.w, 1500*time.Millisecond); n != 1 {
		t.Fatalf("second sed -i gave %d changes, want 1", n)
	}
}

func TestWatchThousandWritesInOneSecond(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t)
	start := time.Now()
	for i := range 1000 {
		testutil.WriteFile(t, f.yaml, fmt.Sprintf("services:\n  web:\n    command: [sleep, '%d']\n", i))
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * time.Millisecond)))
	}
	n := count(f.w, 1500*time.Millisecond)
	if n < 1 || n > 2 {
		t.Fatalf("1000 writes in %v gave %d changes, want 1 or 2", time.Since(start).Round(time.Millisecond), n)
	}
}

func TestWatchThousandTouches(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t)
	for i := range 1000 {
		ts := time.Now().Add(time.Duration(i) * time.Second)
		if err := os.Chtimes(f.yaml, ts, ts); err != nil {
			t.Fatal(err)
		}
		fh, err := os.OpenFile(f.yaml, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.Close() // IN_CLOSE_WRITE without a change of content
	}
	if n := count(f.w, time.Second); n != 0 {
		t.Fatalf("1000 touches without content change gave %d changes, want 0", n)
	}
}

func TestWatchNoChangeSaveAndUnrelatedFiles(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t)
	content, _ := os.ReadFile(f.yaml)
	testutil.WriteFile(t, f.yaml, string(content)) // save without changes
	testutil.WriteFile(t, filepath.Join(f.dir, "README.md"), "unrelated")
	testutil.WriteFile(t, filepath.Join(f.envDir, "other.env"), "X=1")
	os.Mkdir(filepath.Join(f.dir, "sub"), 0o755)
	testutil.WriteFile(t, filepath.Join(f.dir, "sub", "nucleus.yaml"), "not ours")
	if n := count(f.w, time.Second); n != 0 {
		t.Fatalf("no-change save and unrelated files gave %d changes, want 0", n)
	}
}

func TestWatchEnvFileAndNewOverride(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t)
	testutil.WriteFile(t, f.env, "MODE=prod\n")
	if n := count(f.w, time.Second); n != 1 {
		t.Fatalf("env file change gave %d changes, want 1", n)
	}
	// A new override file changes the project although nobody watched it by name.
	testutil.WriteFile(t, filepath.Join(f.dir, "nucleus.override.yaml"), "services: {}\n")
	if n := count(f.w, time.Second); n != 1 {
		t.Fatalf("new override file gave %d changes, want 1", n)
	}
}

func TestWatchMaxDelayUnderContinuousWrites(t *testing.T) {
	t.Parallel()
	// On a loaded machine the writer may stall longer than the quiet
	// period, and then an early report is correct: such a run proves
	// nothing, so it is tried again (a few times at most).
	for attempt := 1; ; attempt++ {
		early, stalled := watchUnderContinuousWrites(t)
		if early == 0 {
			return
		}
		if !stalled || attempt == 3 {
			t.Fatalf("change reported %v before MaxDelay under continuous writes (writer stalled: %v)", early, stalled)
		}
	}
}

// watchUnderContinuousWrites writes every 50 ms and reports whether the
// first change came early (before about 2 s), and if so whether the writer
// had paused for at least the quiet period (300 ms) before it.
func watchUnderContinuousWrites(t *testing.T) (early time.Duration, stalled bool) {
	f := newWatchFixture(t)
	start := time.Now()
	stop := make(chan struct{})
	var mu sync.Mutex
	last, maxGap := start, time.Duration(0)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				os.WriteFile(f.yaml, fmt.Appendf(nil, "services: {} # %d\n", i), 0o644)
				mu.Lock()
				maxGap, last = max(maxGap, time.Since(last)), time.Now()
				mu.Unlock()
			}
		}
	}()
	defer close(stop)
	select {
	case <-f.w.C():
		d := time.Since(start)
		if d > 3*time.Second {
			t.Fatalf("first change reported after %v under continuous writes, want about 2s", d)
		}
		if d >= 1500*time.Millisecond {
			return 0, false
		}
		mu.Lock()
		defer mu.Unlock()
		return d, max(maxGap, time.Since(last)) >= 250*time.Millisecond
	case <-time.After(4 * time.Second):
		t.Fatal("no change reported within 4s of continuous writes: max delay not honoured")
	}
	return 0, false
}

func TestWatchSetFilesFollowsNewEnvFile(t *testing.T) {
	t.Parallel()
	f := newWatchFixture(t)
	other := t.TempDir()
	extra := filepath.Join(other, "extra.env")
	testutil.WriteFile(t, extra, "A=1\n")
	set, _ := WatchSet(f.dir, []string{f.yaml, extra})
	newDirs, err := f.w.SetFiles(f.dir, []string{f.yaml, extra}, ContentDigest(set))
	if err != nil || !newDirs {
		t.Fatalf("SetFiles with a file in a new directory = %v, %v; want it to say it watches a new directory", newDirs, err)
	}
	testutil.WriteFile(t, f.env, "MODE=ignored-now\n")
	if n := count(f.w, time.Second); n != 0 {
		t.Fatalf("file dropped from the set gave %d changes, want 0", n)
	}
	testutil.WriteFile(t, extra, "A=2\n")
	if n := count(f.w, time.Second); n != 1 {
		t.Fatalf("file added to the set gave %d changes, want 1", n)
	}
}

func TestIsEditorTemp(t *testing.T) {
	for name, want := range map[string]bool{
		"4913": true, "nucleus.yaml~": true, ".#nucleus.yaml": true, "#nucleus.yaml#": true,
		".nucleus.yaml.swp": true, ".nucleus.yaml.swx": true, "x.tmp": true,
		"nucleus.yaml": false, ".env": false, "web.env": false, "sedAbc123": false,
	} {
		if got := IsEditorTemp(name); got != want {
			t.Errorf("IsEditorTemp(%q) = %v, want %v", name, got, want)
		}
	}
}
