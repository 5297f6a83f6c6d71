package daemon_test

import (
	"strings"
	"testing"
	"time"

	"nucleus/reconcile/daemon"
)

// TestDaemonPolicyRefusesPrivilegedProject: by default a project asking
// for a dangerous capability is not started: Stalled, PolicyDenied, the
// message naming FILE:LINE:COL and the field. Removing the field brings it
// up; adding it to the running project keeps the allowed configuration
// running (same PID). A daemon started with --allow-privileged runs it.
func TestDaemonPolicyRefusesPrivilegedProject(t *testing.T) {
	e := newEnv(t)
	name := "pol" + e.tag
	privileged := projectYAML(name, "one", "web") + "    cap_add: [SYS_ADMIN]\n"
	e.write("p", privileged)
	e.start()
	e.waitStalled(name, "PolicyDenied")
	st := e.status(name)
	if !strings.Contains(st.Message, "nucleus.yaml:8:15:") || !strings.Contains(st.Message, "services.web.cap_add: CAP_SYS_ADMIN") {
		t.Errorf("refusal does not name the place and field: %q", st.Message)
	}
	time.Sleep(300 * time.Millisecond)
	if got := e.pids(name); len(got) != 0 {
		t.Fatalf("refused project runs: %v", got)
	}

	e.write("p", projectYAML(name, "one", "web"))
	pids := e.waitRunning(name, 1)
	e.waitReady(name)

	e.write("p", privileged)
	e.waitFor("the refusal of the edit", func() bool { return e.status(name).Reason == "PolicyDenied" })
	if got := e.pids(name); !samePIDs(got, pids) {
		t.Errorf("a refused edit disturbed the running project: %v -> %v", pids, got)
	}

	e.stop()
	e.policy = daemon.Policy{AllowPrivileged: true}
	e.start()
	e.waitFor(name+" Ready with --allow-privileged", func() bool {
		st := e.status(name)
		return st.Condition == daemon.Ready && len(e.pids(name)) == 1 && !samePIDs(e.pids(name), pids)
	})
}
