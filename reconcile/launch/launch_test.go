package launch_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/reconcile/host"
	"nucleus/reconcile/launch"
	"nucleus/runtime"
	"nucleus/runtime/runtimetest"
	"nucleus/spec"
)

func TestMain(m *testing.M) { runtimetest.Main(m) }

// networkState reads the recorded state of a network of project.
func networkState(t *testing.T, root rootdir.Root, project, name string) network.NetworkState {
	t.Helper()
	var st network.NetworkState
	b, err := os.ReadFile(filepath.Join(root.Run, "network", project, name+".json"))
	if err != nil {
		t.Fatalf("network %s of %s: %v", name, project, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("network %s of %s: %v", name, project, err)
	}
	return st
}

// TestFailedLaunchLeavesNothing: a launch that fails at the attach (a
// published port the test holds) or at the start after its attach (no such
// command) names the step, and leaves no sandbox (state, cgroup, init,
// mount), no veth, no attachment and no reserved address; the network the
// session made goes when the session closes.
func TestFailedLaunchLeavesNothing(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldPort := held.Addr().(*net.TCPAddr).Port
	for _, c := range []struct {
		name, step string
		port       int
		command    string
	}{
		{"attach", launch.StepAttach, heldPort, "/bin/true"},
		{"start", launch.StepStart, testutil.FreePort(t), "/no/such/command"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := testutil.TempRoot(t)
			name := "lt-" + testutil.RandHex(4)
			port, err := spec.ParsePort("127.0.0.1:" + strconv.Itoa(c.port) + ":8080")
			if err != nil {
				t.Fatal(err)
			}
			sess, err := network.NewRunSession(root, network.RunNetSpec{Service: name, Ports: []network.Port{network.Port(port)}})
			if err != nil {
				t.Fatal(err)
			}
			if err := sess.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			svc := &spec.Service{Name: name, Command: []string{c.command}, ReadOnly: true, StopSignal: "SIGTERM",
				Security: spec.Security{UserNS: spec.UserNSPrivate, Seccomp: spec.SeccompDefault, Landlock: spec.Landlock{Mode: spec.LandlockDefault}}}
			sess.Apply(svc)
			cfg := host.SandboxConfig(svc, nil)
			cfg.ID, cfg.Root = name, root
			key := name + "/1"
			attached := false
			sb, err := launch.Launch(ctx, launch.Request{
				Config:  cfg,
				Service: svc,
				Net:     sess,
				BeforeStart: func(*runtime.Sandbox) error {
					// The start fails after real work to undo: a veth and an attachment.
					attached = networkState(t, root, sess.Project(), network.RunNetworkName).Attachments[key] != nil
					return nil
				},
			})
			var le *launch.Error
			if sb != nil || !errors.As(err, &le) || le.Step != c.step || le.Undo != nil {
				t.Fatalf("launch: sandbox %v, error %v; want a failure at %q, undone without error", sb, err, c.step)
			}
			if c.step == launch.StepAttach && (le.Network != network.RunNetworkName || !strings.Contains(err.Error(), "attach to network run: ")) {
				t.Errorf("attach error %q: want network %s named", err, network.RunNetworkName)
			}
			if c.step == launch.StepStart && !attached {
				t.Errorf("the sandbox was not attached before its start")
			}
			runtimetest.AssertNoSandboxLeft(t, root)
			st := networkState(t, root, sess.Project(), network.RunNetworkName)
			if len(st.Attachments) != 0 || st.Allocs[key] != "" {
				t.Errorf("after the failed launch network %s has attachments %v and allocations %v, want none of %s",
					st.Name, st.Attachments, st.Allocs, key)
			}
			if err := sess.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if leaks, err := network.LeakCheck(root); err != nil || len(leaks) != 0 {
				t.Errorf("network leaks after the session closed: %v %v", leaks, err)
			}
		})
	}
}
