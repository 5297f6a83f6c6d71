package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/reconcile"
	"nucleus/reconcile/daemon"
)

// TestDaemonPolicyChecksTheMountedBindSource (issue 9, finding 1, daemon
// side): under userns: host (allowed with --allow-privileged, but no host
// paths) the workload's symlink is owned by host root, so the runtime may
// follow it; the daemon's host-path policy must then judge the directory
// that would really be mounted, and refuse the restart, not report
// PolicyDenied while the escaped replica runs.
func TestDaemonPolicyChecksTheMountedBindSource(t *testing.T) {
	e := newEnv(t)
	name := "swap" + e.tag
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(e.tree, "p", "data")
	if err := os.MkdirAll(filepath.Join(data, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("p", "name: "+name+`
services:
  w:
    command: ["/bin/sh", "-c", "if [ -e /sub/secret ]; then touch /data/escaped; exec sleep 1000; fi; mv /data/sub /data/old && ln -s `+outside+` /data/sub; exit 1"]
    restart: on-failure
    stop_signal: SIGKILL
    security: {userns: host}
    volumes: ["./data:/data", "./data/sub:/sub"]
`)
	e.policy = daemon.Policy{AllowPrivileged: true}
	e.start()
	store := reconcile.NewStore(e.root)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(data, "escaped")); err == nil {
			t.Fatalf("the restarted replica got %s mounted at /sub", outside)
		}
		rec, _ := store.LoadSandbox(name, "w", 1)
		if rec != nil && strings.Contains(rec.Error, daemon.PolicyDeniedPrefix) {
			if !strings.Contains(rec.Error, outside) || !strings.Contains(rec.Error, "/sub") {
				t.Errorf("refusal does not name the volume and the real source: %q", rec.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refused restart recorded: %+v", rec)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := e.pids(name); len(got) != 0 {
		t.Errorf("a replica runs after the refusal: %v", got)
	}
}
