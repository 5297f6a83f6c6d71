package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
)

// TestCreateOnFullDisk: with the runtime root on a full (or read-only) file
// system Create fails at once, naming the file it could not write and why,
// and leaves no init, cgroup or state directory behind (it used to wait
// forever for an init it never killed).
func TestCreateOnFullDisk(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		spoil      func(t *testing.T, fs *testutil.SmallFS)
	}{
		{"ENOSPC", "no space left on device", func(t *testing.T, fs *testutil.SmallFS) { fs.Fill(t) }},
		{"EROFS", "read-only file system", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t)
			fs := testutil.MountSmallFS(t, root.Run, 512<<10)
			if tc.spoil != nil {
				tc.spoil(t, fs)
			}
			cfg := Config{ID: "full", Root: root, Project: "p", Service: service("/bin/busybox", "sleep", "30")}
			if tc.spoil == nil {
				// makeState creates the state directory right after this
				// (on v1 after the init was cloned, on v2 before).
				cfg.BeforeState = func() error { fs.SetReadOnly(t, true); return nil }
			}
			errc := make(chan error, 1)
			go func() {
				sb, err := Create(context.Background(), cfg)
				if err == nil {
					_ = sb.Remove(context.Background())
				}
				errc <- err
			}()
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("Create succeeded on a full state root")
				}
				t.Logf("Create: %v", err)
				if !strings.Contains(err.Error(), root.Run) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Create: %v; want the path under %s and %q", err, root.Run, tc.want)
				}
			case <-time.After(15 * time.Second):
				killInits(t, root)
				<-errc
				t.Fatal("Create still running 15s after the state root ran out of space")
			}
			// The check before the unmount: the state lives on the tmpfs.
			for _, l := range leaksBesides(t, root, "mount "+root.Run) {
				t.Errorf("left behind: %s", l)
			}
		})
	}
}

// leaksBesides is LeakCheck without the entries the test made on purpose.
func leaksBesides(t *testing.T, root rootdir.Root, expected ...string) []string {
	t.Helper()
	leaks, err := LeakCheck(root)
	if err != nil {
		t.Fatalf("leak check: %v", err)
	}
	var out []string
next:
	for _, l := range leaks {
		for _, e := range expected {
			if l == e {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// killInits kills the inits of root that a hung test would leave running.
func killInits(t *testing.T, root rootdir.Root) {
	leaks, _ := LeakCheck(root)
	for _, l := range leaks {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "process" {
			if pid, err := strconv.Atoi(f[1]); err == nil {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
}

// TestLogsOnFullDisk: a workload that writes while its log's file system is
// full is not blocked; its lines are dropped whole (every line in the file
// still parses), and the first line written once there is room again says
// how many were lost and why.
func TestLogsOnFullDisk(t *testing.T) {
	root := newRoot(t)
	fs := testutil.MountSmallFS(t, filepath.Join(t.TempDir(), "logs"), 256<<10)
	ctx := context.Background()
	// /tmp/n counts the lines written, for the test to see through /proc.
	svc := service("/bin/busybox", "sh", "-c", `i=0; while :; do echo "line $i"; i=$((i+1)); echo $i >/tmp/n; usleep 2000; done`)
	sb := startSandbox(t, Config{ID: "logfull", Root: root, Service: svc, LogDir: fs.Dir})
	records := func() []LogRecord {
		b, err := os.ReadFile(sb.LogPath())
		if err != nil {
			t.Fatal(err)
		}
		var out []LogRecord
		lines := strings.Split(string(b), "\n")
		for _, l := range lines[:len(lines)-1] { // the last one may be in the making
			var r LogRecord
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("torn log line %q: %v", l, err)
			}
			out = append(out, r)
		}
		return out
	}
	testutil.WaitFor(t, "the first log lines", 10*time.Second, func() bool { return len(records()) > 5 })
	fs.Fill(t)
	// Enough lines meet the full disk to fill the page the log file's last
	// line ends in (it takes ~50 more) and then fail (a slow host, such as
	// the emulated v2 VM, may print only a few per second).
	written := func() int {
		for { // the shell truncates before it writes
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root/tmp/n", sb.PID()))
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return n
			}
			time.Sleep(time.Millisecond)
		}
	}
	full := written()
	testutil.WaitFor(t, "lines written while the disk is full", 60*time.Second, func() bool { return written() > full+100 })
	fs.Free(t)
	var note string
	testutil.WaitFor(t, "a note of the lost lines", 10*time.Second, func() bool {
		for _, r := range records() {
			if strings.HasPrefix(r.Line, "[nucleus: ") {
				note = r.Line
				return true
			}
		}
		return false
	})
	if !strings.Contains(note, "log lines lost: no space left on device") {
		t.Errorf("note %q; want the count and %q", note, "no space left on device")
	}
	// The workload went on writing: lines after the note.
	n := len(records())
	testutil.WaitFor(t, "lines after the note", 10*time.Second, func() bool { return len(records()) > n+5 })
	if err := sb.Stop(ctx, unix.SIGKILL, 0); err != nil {
		t.Fatal(err)
	}
}
