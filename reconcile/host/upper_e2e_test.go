package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile"
)

// upperYAML: a writable rootfs whose workload counts its incarnations in
// a file of the root.
const upperYAML = `services:
  web:
    rootfs: ROOTFS
    read_only: false
    command: ["/bin/sh", "-c", "echo run >> /etc/runs; echo runs=$(wc -l < /etc/runs) MODE; exit 3"]
    restart: always
`

// waitLogLines waits until the project's log holds n lines and returns them.
func (e *e2e) waitLogLines(n int) []string {
	e.t.Helper()
	var got []string
	testutil.WaitFor(e.t, "log lines", 20*time.Second, func() bool {
		lines, err := Logs(e.root, e.project, LogOptions{Tail: -1}, time.Now())
		if err != nil {
			e.t.Fatal(err)
		}
		got = got[:0]
		for _, l := range lines {
			got = append(got, l.Line)
		}
		return len(got) >= n
	})
	return got
}

// TestWritableLayerKeptAcrossRestartsUntilDown: what a replica writes in
// its writable rootfs is there when the supervisor restarts it (the file
// grows by one line per incarnation), lives in the replica's upper
// directory under the data root, and is gone after down.
func TestWritableLayerKeptAcrossRestartsUntilDown(t *testing.T) {
	e := newE2E(t)
	rootfs := testutil.BusyboxRootfs(t)
	stop := e.runProject(strings.NewReplacer("ROOTFS", rootfs, "MODE", "a").Replace(upperYAML), func(sv *reconcile.Supervisor) {
		sv.Backoff.Initial, sv.Backoff.Max, sv.Backoff.Rand = 50*time.Millisecond, 200*time.Millisecond, nil
	})
	got := e.waitLogLines(3)
	if want := []string{"runs=1 a", "runs=2 a", "runs=3 a"}; strings.Join(got[:3], "|") != strings.Join(want, "|") {
		t.Errorf("incarnations wrote %q, want %q: the writable layer is not kept across restarts", got, want)
	}
	dir := ReplicaUpperDir(e.root, e.project, "web-1")
	if !testutil.FileExists(filepath.Join(dir, "upper/etc/runs")) {
		t.Errorf("no writable layer in %s", dir)
	}
	stop()
	if _, err := os.Stat(filepath.Join(e.root.Data, "projects", e.project)); !os.IsNotExist(err) {
		t.Errorf("the project's data directory after down: %v", err)
	}
}

// TestWritableLayerStartsAfreshOnReplace: a replica replaced for a new
// configuration starts from the rootfs as it is, not from what the
// replaced sandboxes wrote (a live update in between does not count as a
// new configuration: TestRestartHashIgnoresLiveFieldsOnly).
func TestWritableLayerStartsAfreshOnReplace(t *testing.T) {
	e := newE2E(t)
	rootfs := testutil.BusyboxRootfs(t)
	sv := e.supervisor()
	e.downAtEnd(sv)
	const y = `services:
  web:
    rootfs: ROOTFS
    read_only: false
    command: ["/bin/sh", "-c", "echo run >> /etc/runs; echo runs=$(wc -l < /etc/runs); sleep 1000"]
    environment: {MODE: MODE_X}
    resources: {memory: MEM}
    stop_grace_period: 1s
`
	load := func(mode, mem string) {
		pass(t, sv, e.loadYAML(strings.NewReplacer("ROOTFS", rootfs, "MODE_X", mode, "MEM", mem).Replace(y)))
	}
	load("a", "64M")
	e.waitLogLines(1)
	load("a", "128M") // live: same sandbox
	load("b", "128M") // restart: a new replica
	got := e.waitLogLines(2)
	if want := []string{"runs=1", "runs=1"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("replaced replica's output %q, want %q: it saw the old writable layer", got, want)
	}
}
