package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// flagsYAML has a service that ignores SIGTERM with a long grace period,
// so a stop that returns quickly shows -t at work.
const flagsYAML = `name: NAME
services:
  db:
    command: ["/bin/busybox", "sh", "-c", "while true; do echo db ready; /bin/busybox sleep 0.2; done"]
    stop_grace_period: 1s
  stubborn:
    command: ["/bin/busybox", "sh", "-c", "trap '' TERM; while true; do echo stubborn up; /bin/busybox sleep 0.2; done"]
    depends_on: [db]
    stop_grace_period: 60s
`

func newFlagsCLI(t *testing.T) *cli {
	c := newCLI(t)
	c.writeYAML(strings.ReplaceAll(flagsYAML, "NAME", c.project))
	return c
}

// waitLog waits until `logs SERVICE` prints want.
func (c *cli) waitLog(service, want string) {
	c.t.Helper()
	testutil.WaitFor(c.t, service+" output in logs", 5*time.Second, func() bool {
		out, _, _ := c.run("logs", service)
		return strings.Contains(out, want)
	})
}

func (c *cli) pids() map[string]int {
	c.t.Helper()
	m := map[string]int{}
	for svc, r := range c.ps() {
		m[svc] = r.PID
	}
	return m
}

// TestCLIPsComposeFlags: ps -q prints the replicas' init PIDs (nucleus's
// stand-in for container IDs), --services the services, --status and
// --filter status= select by state, in nucleus's words or Compose's.
func TestCLIPsComposeFlags(t *testing.T) {
	c := newFlagsCLI(t)
	c.must("up", "-d", "--wait")
	var want []string
	for _, r := range c.psRows() {
		want = append(want, strconv.Itoa(r.PID))
	}
	slices.Sort(want)
	got := strings.Fields(c.must("ps", "-q"))
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("ps -q = %v, want the init PIDs %v", got, want)
	}
	if out := c.must("ps", "--services"); out != "db\nstubborn\n" {
		t.Errorf("ps --services = %q, want db and stubborn", out)
	}
	for _, args := range [][]string{{"--status", "running"}, {"--filter", "status=running"}, {"--status", "running", "--status", "exited"}} {
		if rows := c.psRows(args...); len(rows) != 2 {
			t.Errorf("ps %v: %d rows, want both replicas", args, len(rows))
		}
	}
	if rows := c.psRows("--status", "exited"); len(rows) != 0 {
		t.Errorf("ps --status exited: %v, want none", rows)
	}
	c.must("stop", "db")
	if rows := c.psRows("--status", "stopped"); len(rows) != 1 || rows[0].Service != "db" {
		t.Errorf("ps --status stopped after stop db: %v, want db (--status implies -a)", rows)
	}
	for _, bad := range [][]string{{"--status", "sleeping"}, {"--filter", "name=db"}} {
		_, errs, code := c.run(append([]string{"ps"}, bad...)...)
		if code != 2 || !strings.Contains(errs, "expected") {
			t.Errorf("ps %v: exit %d stderr %q, want 2 saying what is expected", bad, code, errs)
		}
	}
}

// TestCLIServiceOpsEveryService: start, stop and restart without names act
// on every service; stop -t replaces stop_grace_period (a service that
// ignores SIGTERM and may take 60 s stops at once with -t 0).
func TestCLIServiceOpsEveryService(t *testing.T) {
	c := newFlagsCLI(t)
	c.must("up", "-d", "--wait")
	before := c.pids()

	start := time.Now()
	c.must("stop", "-t", "0")
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("stop -t 0 took %s; the 60 s grace period was not replaced", took)
	}
	for svc, r := range c.ps("-a") {
		if r.State != "stopped" {
			t.Errorf("after stop with no names: %s is %s, want stopped", svc, r.State)
		}
	}
	c.must("start")
	for svc, r := range c.ps() {
		if r.State != "running" || r.PID == 0 {
			t.Errorf("after start with no names: %s is %s (pid %d), want running", svc, r.State, r.PID)
		}
	}
	mid := c.pids()
	c.must("restart", "--timeout", "100ms")
	after := c.pids()
	for svc := range before {
		if after[svc] == 0 || after[svc] == mid[svc] || mid[svc] == before[svc] {
			t.Errorf("%s: PIDs %d (up), %d (start), %d (restart): every step must start it anew", svc, before[svc], mid[svc], after[svc])
		}
	}
	if _, errs, code := c.run("stop", "-t", "soon"); code == 0 || !strings.Contains(errs, "seconds") {
		t.Errorf("stop -t soon: exit %d stderr %q, want an error asking for seconds", code, errs)
	}
}

// TestCLIProjectNameFromElsewhere: -p NAME finds a running project's files
// through its record under the state root, from a directory without a
// project file (it printed "no nucleus.yaml or nucleus.yml found").
func TestCLIProjectNameFromElsewhere(t *testing.T) {
	c := newFlagsCLI(t)
	c.must("up", "-d", "--wait")
	c.cwd = t.TempDir()
	defer func() { c.cwd = "" }()
	if _, errs, code := c.run("ps"); code != 2 || !strings.Contains(errs, "no nucleus.yaml") {
		t.Fatalf("ps without -p in an empty directory: exit %d stderr %q, want 2", code, errs)
	}
	if rows := c.psRows("-p", c.project); len(rows) != 2 {
		t.Errorf("-p %s ps from elsewhere: %v, want db and stubborn", c.project, rows)
	}
	if out := c.must("-p", c.project, "exec", "db", "--", "/bin/busybox", "echo", "inside"); out != "inside\n" {
		t.Errorf("-p exec from elsewhere: %q", out)
	}
	if out := c.must("-p", c.project, "config", "--services"); out != "db\nstubborn\n" {
		t.Errorf("-p config --services from elsewhere: %q", out)
	}
	c.must("-p", c.project, "stop", "-t", "0", "stubborn")
	if r := c.ps("-a", "-p", c.project)["stubborn"]; r.State != "stopped" {
		t.Errorf("-p stop from elsewhere: stubborn is %s", r.State)
	}
	c.must("-p", c.project, "down", "-t", "0")
	if pid := c.supervisorPID(); pid != 0 {
		t.Errorf("-p down from elsewhere: supervisor %d still runs", pid)
	}
}

// TestCLILogsComposeFlags: --no-log-prefix prints bare lines, --until cuts
// at a time, and -f after the command still follows (it never returns).
func TestCLILogsComposeFlags(t *testing.T) {
	c := newFlagsCLI(t)
	c.must("up", "-d", "--wait")
	c.waitLog("db", "db | db ready")
	out := c.must("logs", "--no-log-prefix", "db")
	if !strings.HasPrefix(out, "db ready\n") || strings.Contains(out, "|") {
		t.Errorf("logs --no-log-prefix db = %q, want bare lines", out)
	}
	if out := c.must("logs", "--until", "2000-01-01T00:00:00Z"); out != "" {
		t.Errorf("logs --until 2000: %q, want nothing", out)
	}
	mid := time.Now()
	time.Sleep(600 * time.Millisecond)
	out = c.must("logs", "--timestamps", "--no-log-prefix", "--until", mid.Format(time.RFC3339Nano), "db")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		ts, _, _ := strings.Cut(l, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || !at.Before(mid) {
			t.Errorf("logs --until %s printed %q (time %v, %v)", mid.Format(time.RFC3339Nano), l, at, err)
		}
	}
	if out := c.must("logs", "--since", mid.Format(time.RFC3339Nano), "--no-log-prefix", "db"); !strings.HasPrefix(out, "db ready\n") || strings.Count(out, "\n") >= strings.Count(c.must("logs", "db"), "\n") {
		t.Errorf("logs --since %s printed %q, want the lines since then only", mid.Format(time.RFC3339Nano), out)
	}
	if out := c.must("logs", "--since", "2000-01-01T00:00:00Z", "db"); !strings.Contains(out, "db | db ready") {
		t.Errorf("logs --since 2000: %q, want every line", out)
	}
	if out := c.must("logs", "--until", "1h", "db"); out != "" {
		t.Errorf("logs --until 1h (an hour ago) printed %q", out)
	}
	if _, errs, code := c.run("logs", "--until", "yesterday"); code != 2 || !strings.Contains(errs, "expected a time") {
		t.Errorf("logs --until yesterday: exit %d stderr %q", code, errs)
	}
	out, _, code := c.runWithin(2*time.Second, "logs", "-f", "db")
	if code != -1 || !strings.Contains(out, "db | db ready") {
		t.Errorf("logs -f db: exit %d (want -1: still following when killed), out %q", code, out)
	}
}

// TestCLIBuildAndCompletion: build says nucleus runs existing images and
// how to supply one; the completion scripts exist and complete services.
func TestCLIBuildAndCompletion(t *testing.T) {
	c := newFlagsCLI(t)
	_, errs, code := c.run("build", "--pull", "web")
	if code != 2 || !strings.Contains(errs, "does not build images") || !strings.Contains(errs, "image:") {
		t.Errorf("build: exit %d stderr %q, want 2 with the how-to", code, errs)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if out := c.must("completion", sh); !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: no script calling __complete:\n%.200s", sh, out)
		}
	}
	for _, args := range [][]string{{"stop", ""}, {"logs", "-f", "s"}, {"up", "db", ""}, {"exec", ""}, {"kill", "db", ""}, {"port", ""}, {"run", "s"}, {"wait", ""}} {
		out := c.must(append([]string{"__complete"}, args...)...)
		got := strings.Split(strings.TrimSpace(out), "\n")
		got = got[:len(got)-1] // the directive line
		want := map[string][]string{"stop": {"db", "stubborn"}, "logs": {"stubborn"}, "up": {"stubborn"}, "exec": {"db", "stubborn"},
			"kill": {"stubborn"}, "port": {"db", "stubborn"}, "run": {"stubborn"}, "wait": {"db", "stubborn"}}[args[0]]
		if !slices.Equal(got, want) {
			t.Errorf("__complete %s: %v, want %v", strings.Join(args, " "), got, want)
		}
	}
	// From elsewhere, -f names the file whose services complete.
	c.cwd = t.TempDir()
	defer func() { c.cwd = "" }()
	out := c.must("__complete", "-f", fmt.Sprintf("%s/nucleus.yaml", c.dir), "restart", "")
	if !strings.Contains(out, "db\nstubborn\n") {
		t.Errorf("__complete -f FILE restart: %q", out)
	}
}

const profilesYAML = `name: NAME
services:
  app:
    image: docker.io/library/nginx:1.27
  debug:
    command: ["/bin/busybox", "sleep", "1"]
    profiles: [tools, debug]
  seed:
    image: docker.io/library/busybox:1.36
    profiles: [tools]
`

// TestCLIConfigListsAndProfileCompletion: config --images and --profiles
// list what the files declare (profiles whether active or not), and
// completion offers the profiles for --profile and the services of
// inactive profiles too (a command may name them).
func TestCLIConfigListsAndProfileCompletion(t *testing.T) {
	c := newCLI(t)
	c.writeYAML(strings.ReplaceAll(profilesYAML, "NAME", c.project))
	if out := c.must("config", "--images"); out != "docker.io/library/nginx:1.27\n" {
		t.Errorf("config --images (no profile active) = %q, want app's image", out)
	}
	if out := c.must("--profile", "tools", "config", "--images"); out != "docker.io/library/nginx:1.27\ndocker.io/library/busybox:1.36\n" {
		t.Errorf("--profile tools config --images = %q, want app's and seed's", out)
	}
	if out := c.must("config", "--profiles"); out != "debug\ntools\n" {
		t.Errorf("config --profiles = %q, want debug and tools", out)
	}
	complete := func(args ...string) []string {
		out := c.must(append([]string{"__complete"}, args...)...)
		got := strings.Split(strings.TrimSpace(out), "\n")
		return got[:len(got)-1] // the directive line
	}
	if got := complete("--profile", ""); !slices.Equal(got, []string{"debug", "tools"}) {
		t.Errorf("__complete --profile: %v", got)
	}
	if got := complete("up", "--profile", "t"); !slices.Equal(got, []string{"tools"}) {
		t.Errorf("__complete up --profile t: %v", got)
	}
	if got := complete("up", ""); !slices.Equal(got, []string{"app", "debug", "seed"}) {
		t.Errorf("__complete up: %v, want every service", got)
	}
}

// TestCLIConfigNoInterpolate: config --no-interpolate prints the files
// merged (override file included) with ${VARIABLES} as written, also when
// they are unset (plain config then fails); a compose file is refused
// with the reason.
func TestCLIConfigNoInterpolate(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + `
services:
  web:
    command: ["/bin/busybox", "httpd", "-f", "-p", "${WEB_PORT}"]
`)
	testutil.WriteFile(t, filepath.Join(c.dir, "nucleus.override.yaml"), "services:\n  web:\n    environment: {MODE: \"${MODE:-dev}\"}\n")
	if _, errs, code := c.run("config"); code != 2 || !strings.Contains(errs, "WEB_PORT is not set") {
		t.Fatalf("config with WEB_PORT unset: exit %d stderr %q, want 2", code, errs)
	}
	out := c.must("config", "--no-interpolate")
	for _, want := range []string{"- ${WEB_PORT}\n", "MODE: ${MODE:-dev}\n", "name: " + c.project} {
		if !strings.Contains(out, want) {
			t.Errorf("config --no-interpolate lacks %q:\n%s", want, out)
		}
	}
	out = c.must("config", "--no-interpolate", "--format", "json")
	if !strings.Contains(out, `"MODE": "${MODE:-dev}"`) {
		t.Errorf("config --no-interpolate --format json:\n%s", out)
	}
	testutil.WriteFile(t, filepath.Join(c.dir, "compose.yaml"), "services:\n  web:\n    image: nginx:${TAG}\n")
	if _, errs, code := c.run("-f", "compose.yaml", "config", "--no-interpolate"); code != 2 || !strings.Contains(errs, "compose file") {
		t.Errorf("config --no-interpolate of a compose file: exit %d stderr %q, want 2 saying why", code, errs)
	}
}

// TestCLIGlobalFileBeforeImageCommands: under image rm and image prune -f
// is --force; before the command it stays the global --file (a guard: this
// held already, as TraverseChildren gives flags before the command to the
// root).
func TestCLIGlobalFileBeforeImageCommands(t *testing.T) {
	c := newFlagsCLI(t)
	c.cwd = t.TempDir()
	defer func() { c.cwd = "" }()
	file := filepath.Join(c.dir, "nucleus.yaml")
	if out, errs, code := c.run("-f", file, "image", "prune", "-f"); code != 0 || !strings.Contains(out, "reclaimed") {
		t.Errorf("-f FILE image prune -f: exit %d stdout %q stderr %q", code, out, errs)
	}
	if _, errs, code := c.run("-f", file, "image", "rm", "-f", "nginx:1"); code != 1 || !strings.Contains(errs, "not in the store") {
		t.Errorf("-f FILE image rm -f nginx:1: exit %d stderr %q, want 1 saying it is not in the store", code, errs)
	}
	if out := c.must("-f", file, "config", "--services"); out != "db\nstubborn\n" {
		t.Errorf("-f FILE config --services from elsewhere: %q", out)
	}
}
