package host

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nucleus/network"
	"nucleus/reconcile"
	"nucleus/runtime"
	"nucleus/spec"
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
	file := filepath.Join(e.dir, "nucleus.yaml")
	if err := os.WriteFile(file, []byte(restartLogYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	sv := e.supervisor()
	sv.Backoff.Initial, sv.Backoff.Max, sv.Backoff.Rand = 50*time.Millisecond, 200*time.Millisecond, nil
	r := &reconcile.Runner{
		Load: func() (*spec.Project, error) {
			return spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: e.project})
		},
		Supervisor: sv,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		if err := e.supervisor().Down(context.Background()); err != nil {
			t.Error(err)
		}
	}
	defer func() {
		stop()
		if leaks, _ := runtime.LeakCheck(e.root); len(leaks) != 0 {
			t.Errorf("runtime leaks: %v", leaks)
		}
		if leaks, _ := network.LeakCheck(e.root); len(leaks) != 0 {
			t.Errorf("network leaks: %v", leaks)
		}
	}()

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
