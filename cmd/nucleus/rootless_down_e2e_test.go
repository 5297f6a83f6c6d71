package main

import (
	"fmt"
	"net"
	"testing"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
)

// TestRootlessDownAfterFailedUp: ups that fail after the project's user
// namespace keeper and hub were started (a service whose command does not
// exist; a published port that is taken, with either way out), then down: nothing of the
// project is left.
func TestRootlessDownAfterFailedUp(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for name, y := range map[string]string{
		"command": webClientYAML("rlfail", testutil.FreePort(t), "", "") + "  broken:\n    command: [/no/such/command]\n",
		"port": webClientYAML("rlfail", testutil.FreePort(t), "", "") +
			fmt.Sprintf("  broken:\n    command: [/bin/busybox, sleep, \"3600\"]\n    ports: [\"%s:8080\"]\n", taken.Addr()),
		// The hub's pasta, restarted with the taken port, cannot bind it.
		"port-pasta": webClientYAML("rlfail", testutil.FreePort(t),
			fmt.Sprintf("  broken:\n    command: [/bin/busybox, sleep, \"3600\"]\n    ports: [\"%s:8080\"]\n", taken.Addr()), "userspace_backend: pasta"),
	} {
		t.Run(name, func(t *testing.T) {
			e := testutil.NewUserEnv(t, u)
			defer leaktest.Check(t, e.Root)
			e.WriteProject(t, y)
			if r := e.Run(t, nucleusBin, "up", "-d", "--wait"); r.Code == 0 {
				t.Errorf("up -d --wait that cannot work succeeded: %s", r)
			} else {
				t.Logf("up: %s", r)
			}
			downLeavesNothing(t, e)
		})
	}
}

// TestRootlessDownAfterRunJoined: `run --rm --network default` joins a
// project's network (made by the run when the project is not up, the
// project's otherwise), then down: nothing of the project is left.
func TestRootlessDownAfterRunJoined(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	for _, up := range []bool{false, true} {
		t.Run(map[bool]string{false: "not-up", true: "up"}[up], func(t *testing.T) {
			e := testutil.NewUserEnv(t, u)
			defer leaktest.Check(t, e.Root)
			e.WriteProject(t, webClientYAML("rljoin", testutil.FreePort(t), "", ""))
			want := "hi\n"
			if up {
				if r := e.Run(t, nucleusBin, "up", "-d", "--wait"); r.Code != 0 {
					t.Fatalf("up -d --wait: %s", r)
				}
				want = "hello from web\n"
			}
			r := e.Run(t, nucleusBin, "run", "--rm", "--network", "default", "--", "/bin/sh", "-c",
				"/bin/busybox timeout 10 /bin/busybox wget -q -O- http://web:8080/ 2>/dev/null || echo hi")
			if r.Code != 0 || r.Stdout != want {
				t.Errorf("run --rm --network default: want %q, got %s", want, r)
			}
			if !up {
				if left := e.Processes(); len(left) > 0 {
					t.Errorf("processes left after run --rm in a project that is not up: %q", left)
				}
			}
			downLeavesNothing(t, e)
		})
	}
}
