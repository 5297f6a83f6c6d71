package host

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/runtime"
)

func logLine(t *testing.T, s string) []byte {
	b, err := json.Marshal(runtime.LogRecord{Time: time.Now(), Stream: "stdout", Line: s})
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func appendTo(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func lines(recs []runtime.LogRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Line)
	}
	return out
}

// The follower reports every line exactly once: partial lines only when
// complete, the tail of a file rotated away before the new file, and a file
// that is removed and created again (the sandbox was replaced) from its start.
func TestFollowerAcrossRotationAndReplacement(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, runtime.LogFile)
	fl := &follower{path: path}
	if got := fl.poll(); len(got) != 0 {
		t.Fatalf("no file yet: %v", got)
	}
	appendTo(t, path, logLine(t, "one"))
	whole := logLine(t, "two")
	appendTo(t, path, whole[:5]) // the writer is mid-line
	if got := lines(fl.poll()); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("first poll %q", got)
	}
	appendTo(t, path, whole[5:])
	appendTo(t, path, logLine(t, "three"))
	// Rotation: the old file gets renamed; the new one is created after.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, logLine(t, "four"))
	if got := lines(fl.poll()); !slices.Equal(got, []string{"two", "three", "four"}) {
		t.Fatalf("after rotation %q", got)
	}
	// ReadLog returns rotated files first.
	all, err := ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(all); !slices.Equal(got, []string{"one", "two", "three", "four"}) {
		t.Fatalf("ReadLog %q", got)
	}
	// The sandbox is replaced: directory gone, then back with a new file.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if got := fl.poll(); len(got) != 0 {
		t.Fatalf("while gone: %q", lines(got))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, logLine(t, "five"))
	if got := lines(fl.poll()); !slices.Equal(got, []string{"five"}) {
		t.Fatalf("after replacement %q", got)
	}
	fl.close()
}

// Logs merges the replicas' lines in time order, --tail per replica,
// --since by time.
func TestLogsTailSinceMerge(t *testing.T) {
	d := t.TempDir()
	root := rootdir.Root{Run: filepath.Join(d, "run"), Data: filepath.Join(d, "data")}
	store := reconcile.NewStore(root)
	now := time.Now()
	write := func(service string, at ...time.Duration) {
		rec := &reconcile.SandboxRecord{Project: "p", Service: service, Replica: 1, ID: "p-" + service + "-1", State: reconcile.StateRunning}
		if err := store.SaveSandbox(rec); err != nil {
			t.Fatal(err)
		}
		path := LogPath(root, rec)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		for i, a := range at {
			b, _ := json.Marshal(runtime.LogRecord{Time: now.Add(-a), Stream: "stdout", Line: fmt.Sprintf("%s %d", service, i)})
			appendTo(t, path, append(b, '\n'))
		}
	}
	write("a", 50*time.Minute, 3*time.Minute, time.Minute)
	write("b", 40*time.Minute, 2*time.Minute)
	got := func(o LogOptions) []string {
		ls, err := Logs(root, "p", o, now)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range ls {
			out = append(out, l.Line)
		}
		return out
	}
	if g := got(LogOptions{Tail: -1}); !slices.Equal(g, []string{"a 0", "b 0", "a 1", "b 1", "a 2"}) {
		t.Errorf("all: %q", g)
	}
	if g := got(LogOptions{Tail: 1}); !slices.Equal(g, []string{"b 1", "a 2"}) {
		t.Errorf("tail 1: %q", g)
	}
	if g := got(LogOptions{Tail: -1, Since: 10 * time.Minute}); !slices.Equal(g, []string{"a 1", "b 1", "a 2"}) {
		t.Errorf("since 10m: %q", g)
	}
	if g := got(LogOptions{Tail: -1, Services: []string{"b"}}); !slices.Equal(g, []string{"b 0", "b 1"}) {
		t.Errorf("service b: %q", g)
	}
}
