package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// A sandbox must not be able to rewrite the files that configure it. These
// tests take the attack of issue 9 (a service mounting the project
// directory read-write edits nucleus.yaml; hot reload applies a new service
// mounting /root) through the commands a user runs.

const configWriteYAML = `services:
  web:
    command: [/bin/busybox, sleep, "1000"]
    volumes: [".:/app"]
`

// validate and plan report the volume with its position and what to do.
func TestValidateRefusesWritableProjectMount(t *testing.T) {
	dir := writeProject(t, map[string]string{"nucleus.yaml": configWriteYAML})
	for _, cmd := range []string{"validate", "plan"} {
		out, errText, code := runCLI(t, dir, cmd)
		if code != 2 || out != "" {
			t.Errorf("%s: exit %d, stdout %q; want 2 and nothing on stdout", cmd, code, out)
		}
		for _, want := range []string{
			`nucleus.yaml:4:15: services.web.volumes[0]: writable bind mount ".:/app" contains the project's own file`,
			`mount it read-only (".:/app:ro")`, "mount a subdirectory", "allow_config_write: true",
		} {
			if !strings.Contains(errText, want) {
				t.Errorf("%s: error does not say %q:\n%s", cmd, want, errText)
			}
		}
	}
	// Read-only is fine.
	dir = writeProject(t, map[string]string{"nucleus.yaml": strings.Replace(configWriteYAML, ".:/app", ".:/app:ro", 1)})
	if _, errText, code := runCLI(t, dir, "validate"); code != 0 {
		t.Errorf("a read-only mount of the project directory: exit %d: %s", code, errText)
	}
}

// nucleus up refuses such a file and starts nothing; a hot reload of such
// an edit keeps the running services with their last good configuration,
// and ps shows why.
func TestCLIUpRefusesWritableProjectMount(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + "\n" + configWriteYAML)
	out, errText, code := c.run("up", "-d")
	if code != 2 || !strings.Contains(errText, `nucleus.yaml:5:15: services.web.volumes[0]: writable bind mount ".:/app" contains the project's own file`) {
		t.Fatalf("up with a writable project mount: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errText)
	}
	if c.supervisorPID() != 0 {
		t.Fatalf("a supervisor runs after a refused up")
	}

	c.write("one")
	c.must("up", "-d", "--wait", "--wait-timeout", "30s")
	before := c.ps()
	web, worker := before["web"], before["worker"]
	if !testutil.Alive(web.PID) || !testutil.Alive(worker.PID) {
		t.Fatalf("after up: %+v", before)
	}

	// The edit a sandbox holding the project directory would make: the
	// worker mounts it writable, and a new service mounts /root.
	edited := strings.NewReplacer("NAME", c.project, "PORT", fmt.Sprint(c.port), "MODE_VALUE", "two").Replace(cliYAML)
	edited = strings.Replace(edited, "    restart: always\n", "    restart: always\n    volumes: [\".:/app\"]\n", 1)
	edited += "  evil:\n    command: [/bin/busybox, sleep, \"1000\"]\n    volumes: [\"/root:/hostroot\"]\n"
	c.writeYAML(edited)
	time.Sleep(800 * time.Millisecond) // debounce and a pass
	psOut, psErr, code := c.run("ps")
	if code != 0 || !strings.Contains(psErr, "services.worker.volumes[0]: writable bind mount") || strings.Contains(psOut, "evil") {
		t.Errorf("ps after the refused edit: code %d\nstdout:\n%s\nstderr:\n%s", code, psOut, psErr)
	}
	after := c.ps("-a")
	if _, ok := after["evil"]; ok {
		t.Errorf("the refused edit started a service: %+v", after)
	}
	if after["web"].PID != web.PID || after["worker"].PID != worker.PID {
		t.Errorf("the refused edit changed the running replicas: %+v -> %+v", before, after)
	}
	logs, _, _ := c.run("logs", "--tail", "2", "worker")
	if strings.Contains(logs, "tick two") {
		t.Errorf("the refused edit's environment was applied: %s", logs)
	}

	// Once the file is fixed, the edit applies as usual.
	c.write("two")
	testutil.WaitFor(t, "worker restarted with MODE=two", 10*time.Second, func() bool {
		w := c.ps()["worker"]
		return w.PID != worker.PID && w.State == "running"
	})
}
