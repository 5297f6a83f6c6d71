package daemon_test

import (
	"strings"
	"testing"
	"time"

	"nucleus/reconcile/daemon"
)

// TestDaemonRefusesConfigWritableMount: under the daemon, even one started
// with every opt-in, an edit that mounts the project directory writable
// changes nothing: without allow_config_write the files do not load
// (InvalidFiles, naming the volume), with it the policy refuses them
// (PolicyDenied); the running replica keeps its PID either way.
func TestDaemonRefusesConfigWritableMount(t *testing.T) {
	e := newEnv(t)
	name := "cw" + e.tag
	base := projectYAML(name, "one", "web")
	e.policy = daemon.Policy{AllowPrivileged: true, AllowHostPaths: []string{"/"}}
	e.write("p", base)
	e.start()
	pids := e.waitRunning(name, 1)
	e.waitReady(name)

	e.write("p", base+"    volumes: [\".:/app\"]\n")
	e.waitStalled(name, "InvalidFiles")
	if msg := e.status(name).Message; !strings.Contains(msg, "nucleus.yaml:8:15: services.web.volumes[0]: writable bind mount \".:/app\" contains the project's own file") {
		t.Errorf("refusal does not name the volume and the file: %q", msg)
	}

	e.write("p", base+"    volumes: [{type: bind, source: ., target: /app, allow_config_write: true}]\n")
	e.waitStalled(name, "PolicyDenied")
	if msg := e.status(name).Message; !strings.Contains(msg, "nucleus.yaml:8:15: services.web.volumes: allow_config_write") {
		t.Errorf("policy refusal does not name the volume: %q", msg)
	}
	time.Sleep(300 * time.Millisecond)
	if got := e.pids(name); !samePIDs(got, pids) {
		t.Errorf("a refused edit disturbed the running project: %v -> %v", pids, got)
	}
}
