package host

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/reconcile"
	"nucleus/runtime/runtimetest"
	"nucleus/spec"
)

// TestFailedLaunchOfAReplicaLeavesNothing: a replica whose attach fails (a
// published port the test holds) and one whose start fails after its
// attach (no such command) are failed starts naming the step, and nothing
// of their sandboxes is left: no state, cgroup, init, mount, veth or
// attachment. The project's network stays for the next try; down removes it.
func TestFailedLaunchOfAReplicaLeavesNothing(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	file := filepath.Join(e.dir, "nucleus.yaml")
	y := fmt.Sprintf(`services:
  held:
    command: ["/bin/sleep", "1000"]
    ports: ["127.0.0.1:%d:8080"]
    restart: "no"
  ghost:
    command: ["/no/such/command"]
    ports: ["127.0.0.1:%d:8080"]
    restart: "no"
`, held.Addr().(*net.TCPAddr).Port, testutil.FreePort(t))
	testutil.WriteFile(t, file, y)
	p, err := spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: e.project})
	if err != nil {
		t.Fatal(err)
	}
	sv := e.supervisor()
	defer sv.Close()
	if _, err := sv.Pass(ctx, p); err == nil {
		t.Fatal("a pass with a held port and a missing command succeeded")
	}
	store := reconcile.NewStore(e.root)
	for service, want := range map[string]string{"held": "attach to network default: ", "ghost": "start workload: "} {
		rec, err := store.LoadSandbox(e.project, service, 1)
		if err != nil || rec == nil || rec.State != reconcile.StateExited || !strings.Contains(rec.Error, want) {
			t.Errorf("%s-1: record %+v (%v), want an exited failed start with %q", service, rec, err, want)
		}
	}
	runtimetest.AssertNoSandboxLeft(t, e.root)
	if st, err := e.mgr.NetworkExists(e.project, "default"); err != nil || !st {
		t.Errorf("the project's network after the failed starts: exists %v (%v)", st, err)
	}
	var st network.NetworkState
	b, err := os.ReadFile(filepath.Join(e.root.Run, "network", e.project, "default.json"))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || len(st.Attachments) != 0 {
		t.Errorf("the failed starts left attachments in the network record (%v): %v", err, st.Attachments)
	}
	if err := sv.Down(ctx); err != nil {
		t.Fatal(err)
	}
	noLeaks(t, e.root)
}
