package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// swapYAML: a replica that finds the outside directory's secret at /sub
// records the escape and stays up; otherwise it replaces ./data/sub (which
// it can reach through /data) by a symlink to the outside directory and
// fails, so that the supervisor restarts it.
const swapYAML = `services:
  w:
    command: ["/bin/sh", "-c", "if [ -e /sub/secret ]; then touch /data/escaped; exec sleep 1000; fi; mv /data/sub /data/old && ln -s OUTSIDE /data/sub; exit 1"]
    restart: on-failure
    stop_signal: SIGKILL
    volumes: ["./data:/data", "./data/sub:/sub"]
`

// swapSetup makes dir/data/sub (data writable by any sandbox, without
// :U, so the test means the same before and after the fix) and an outside
// directory holding a secret; it returns the yaml for it.
func swapSetup(t *testing.T, dir, yaml string) (string, string) {
	t.Helper()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(data, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o777); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(yaml, "OUTSIDE", outside), data
}

// TestSwappedSymlinkDoesNotRedirectBindOnRestart (issue 9, finding 1): a
// workload swaps the source of its second bind volume for a symlink to a
// host directory and exits; the restarted replica must not get that
// directory: the start fails, naming the volume, the path and the owner of
// the symlink.
func TestSwappedSymlinkDoesNotRedirectBindOnRestart(t *testing.T) {
	e := newE2E(t)
	yaml, data := swapSetup(t, e.dir, swapYAML)
	store := e.runFailing(yaml)
	sub := filepath.Join(data, "sub")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(data, "escaped")); err == nil {
			t.Fatalf("the restarted replica found the outside directory mounted at /sub")
		}
		rec, _ := store.LoadSandbox(e.project, "w", 1)
		if rec != nil && rec.Error != "" {
			for _, want := range []string{"volume /sub", sub, "symlink", "owned by uid"} {
				if !strings.Contains(rec.Error, want) {
					t.Errorf("start error %q does not name %q", rec.Error, want)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refused restart recorded: %+v", rec)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fi, err := os.Lstat(sub); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the workload did not plant its symlink: %v %v", fi, err)
	}
}
