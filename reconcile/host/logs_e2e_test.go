package host

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"nucleus/reconcile"
	"nucleus/runtime"
)

const restartLogYAML = `services:
  crash:
    command: ["/bin/sh", "-c", "echo incarnation; exit 3"]
    restart: always
`

// TestLogsKeepEarlierIncarnationsUntilDown: a replica that crashes and is
// restarted keeps the output of its earlier sandboxes in `nucleus logs`, in
// time order; `down` removes the logs.
func TestLogsKeepEarlierIncarnationsUntilDown(t *testing.T) {
	e := newE2E(t)
	stop := e.runProject(restartLogYAML, func(sv *reconcile.Supervisor) {
		sv.Backoff.Initial, sv.Backoff.Max, sv.Backoff.Rand = 50*time.Millisecond, 200*time.Millisecond, nil
	})

	// Three incarnations have run: each wrote one line to the same log.
	var lines []LogLine
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		lines, err = Logs(e.root, e.project, LogOptions{Tail: -1}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs after 20 s: %+v, want 3 incarnations' output", lines)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, l := range lines {
		if l.Replica != "crash-1" || l.Service != "crash" || l.Line != "incarnation" || l.Stream != "stdout" {
			t.Errorf("line %d: %+v", i, l)
		}
		if i > 0 && l.Time.Before(lines[i-1].Time) {
			t.Errorf("lines out of time order: %v then %v", lines[i-1].Time, l.Time)
		}
	}
	dir := ReplicaLogDir(e.root, e.project, "crash-1")
	if _, err := os.Stat(filepath.Join(dir, runtime.LogFile)); err != nil {
		t.Errorf("replica log file: %v", err)
	}

	stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("log directory %s after down: %v", dir, err)
	}
	if lines, err := Logs(e.root, e.project, LogOptions{Tail: -1}, time.Now()); err != nil || len(lines) != 0 {
		t.Errorf("logs after down: %d lines, %v", len(lines), err)
	}
}
