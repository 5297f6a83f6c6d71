package runtime

import (
	"context"
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
