package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"nucleus/internal/leaktest"
	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/reconcile/api"
	"nucleus/runtime"
)

// The end-to-end tests run the nucleus binary as a user would: built once
// by TestMain, each test with its own state root and project directory.
var nucleusBin string

func TestMain(m *testing.M) {
	os.Exit(testutil.RunWithBinaries(m, "nucleus-bin-", func(dir string) error {
		nucleusBin = filepath.Join(dir, "nucleus")
		// nucleus-compose, nucleus-seccomp and nucleus-image beside it, where nucleus
		// looks for them (the rootless tests' commands get a clean environment).
		// The tests that run nucleus in this process (run_test.go: the test
		// binary has no helper beside it) find nucleus-seccomp by
		// $NUCLEUS_SECCOMP, unless it is set already (the v2 VM's).
		if err := testutil.GoBuild(filepath.Join(dir, "nucleus-compose"), "nucleus/cmd/nucleus-compose", false); err != nil {
			return err
		}
		if err := testutil.BuildSeccompHelper(dir); err != nil {
			return err
		}
		if os.Getenv(testutil.SeccompHelperEnv) == "" {
			if err := os.Setenv(testutil.SeccompHelperEnv, filepath.Join(dir, "nucleus-seccomp")); err != nil {
				return err
			}
		}
		if err := testutil.GoBuild(filepath.Join(dir, "nucleus-image"), "nucleus/cmd/nucleus-image", false); err != nil {
			return err
		}
		return testutil.GoBuild(nucleusBin, ".", false) // as make build: no cgo
	}))
}

const cliYAML = `name: NAME
services:
  web:
    command: ["/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/srv"]
    ports: ["127.0.0.1:PORT:8080"]
    volumes: ["./site:/srv:ro"]
    healthcheck: {tcp: 8080, interval: 200ms}
    stop_grace_period: 1s
  worker:
    command: ["/bin/busybox", "sh", "-c", "trap 'exit 0' TERM; while true; do echo tick $$MODE; /bin/busybox sleep 0.2; done"]
    environment: {MODE: MODE_VALUE}
    depends_on: {web: {condition: service_healthy}}
    restart: always
    stop_grace_period: 1s
`

type cli struct {
	t       *testing.T
	root    string
	dir     string
	project string
	port    int
	env     []string // added to nucleus's environment (interpolated variables)
	cwd     string   // where nucleus runs when not dir (-p from elsewhere)
	stdin   string   // standard input of nucleus (-f -)
	bin     string   // the nucleus to run when not nucleusBin (helpers left out)
}

func newCLI(t *testing.T) *cli {
	testutil.RequireRoot(t)
	testutil.Require(t, testutil.FileExists("/bin/busybox"), "/bin/busybox (busybox-static)")
	c := &cli{t: t, root: t.TempDir(), dir: t.TempDir(),
		project: fmt.Sprintf("cli%d", os.Getpid()%100000), port: 20000 + os.Getpid()%20000}
	if err := os.MkdirAll(filepath.Join(c.dir, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(c.dir, "site", "index.html"), "hello from the e2e test\n")
	c.write("one")
	t.Cleanup(func() {
		// Whatever happened: take it down and prove nothing is left.
		c.run("down", "--timeout", "0s")
		c.assertNoLeaks()
	})
	return c
}

func (c *cli) rootdir() rootdir.Root { return rootdir.Resolve(c.root) }

// write saves the project file the way an editor does (temporary file, rename).
func (c *cli) write(mode string) {
	c.t.Helper()
	c.writeYAML(strings.NewReplacer("NAME", c.project, "PORT", fmt.Sprint(c.port), "MODE_VALUE", mode).Replace(cliYAML))
}

func (c *cli) writeYAML(y string) {
	c.t.Helper()
	tmp := filepath.Join(c.dir, ".nucleus.yaml.swp")
	if err := os.WriteFile(tmp, []byte(y), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "nucleus.yaml")); err != nil {
		c.t.Fatal(err)
	}
}

// run runs nucleus in the project directory; it returns stdout, stderr
// and the exit code.
func (c *cli) run(args ...string) (string, string, int) {
	c.t.Helper()
	return c.runWithin(0, args...)
}

// runWithin is run that kills nucleus after limit (0: no limit): a hung
// command then exits -1 instead of hanging the test.
func (c *cli) runWithin(limit time.Duration, args ...string) (string, string, int) {
	c.t.Helper()
	ctx := context.Background()
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	bin := nucleusBin
	if c.bin != "" {
		bin = c.bin
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--root", c.root}, args...)...)
	cmd.WaitDelay = time.Second // a detached child may hold the pipes
	cmd.Dir = c.dir
	if c.cwd != "" {
		cmd.Dir = c.cwd
	}
	if c.env != nil {
		cmd.Env = append(os.Environ(), c.env...)
	}
	cmd.Stdin = strings.NewReader(c.stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("nucleus %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (c *cli) must(args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("nucleus %s: exit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

type psRow struct {
	Service  string `json:"service"`
	Replica  int    `json:"replica"`
	State    string `json:"state"`
	PID      int    `json:"pid"`
	Health   string `json:"health"`
	Restarts int    `json:"restarts"`
	ExitCode *int   `json:"exit_code"`
	IP       string `json:"ip"`
	Ports    []string
	Hash     string `json:"hash"`
	// StartedAt is when it last started; WaitingFor what a waiting replica waits for.
	StartedAt  time.Time `json:"started_at"`
	WaitingFor string    `json:"waiting_for"`
}

// ps is `ps --json` by service (the last replica of each).
func (c *cli) ps(args ...string) map[string]psRow {
	c.t.Helper()
	m := map[string]psRow{}
	for _, r := range c.psRows(args...) {
		m[r.Service] = r
	}
	return m
}

func (c *cli) psRows(args ...string) []psRow {
	c.t.Helper()
	out := c.must(append([]string{"ps", "--json"}, args...)...)
	var rows []psRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		c.t.Fatalf("ps --json: %v\n%s", err, out)
	}
	return rows
}

func (c *cli) supervisorPID() int {
	pid, ok := api.Running(c.rootdir(), c.project)
	if !ok {
		return 0
	}
	return pid
}

func (c *cli) assertNoLeaks() {
	c.t.Helper()
	root := c.rootdir()
	leaktest.Check(c.t, root)
	if pid := c.supervisorPID(); pid != 0 {
		c.t.Errorf("supervisor %d still runs", pid)
	}
	if recs, _ := reconcile.NewStore(root).LoadSandboxes(c.project); len(recs) > 0 {
		c.t.Errorf("state records left: %v", recs)
	}
}

// assertNoIDRangeLease checks that down gave the project's uid/gid range
// back (no named volume keeps it): no host-wide lease names this root.
func (c *cli) assertNoIDRangeLease() {
	c.t.Helper()
	data, _ := filepath.Abs(c.rootdir().Data)
	files, _ := filepath.Glob(filepath.Join(runtime.IDRegistryDir, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var l struct{ Data, Project string }
		if json.Unmarshal(b, &l) == nil && l.Data == data {
			c.t.Errorf("uid/gid range lease %s of project %s left after down", f, l.Project)
		}
	}
}

// TestCLIUpDetachedLifecycle is the user's path: up -d --wait, ps, exec,
// logs, the page served on the published port, an edit that restarts only
// the changed service, stop/start, a SIGKILLed supervisor whose services
// keep running and are adopted with the same PIDs, and down leaving nothing.
func TestCLIUpDetachedLifecycle(t *testing.T) {
	c := newCLI(t)
	out := c.must("up", "-d", "--wait", "--wait-timeout", "30s")
	if !strings.Contains(out, "start web: new service") || !strings.Contains(out, "start worker: new service") {
		t.Errorf("up -d printed %q, want the start steps", out)
	}
	sup := c.supervisorPID()
	if !testutil.Alive(sup) {
		t.Fatalf("no supervisor after up -d")
	}
	ps := c.ps()
	web, worker := ps["web"], ps["worker"]
	if web.State != "healthy" || web.Health != "healthy" || !testutil.Alive(web.PID) || web.IP == "" || web.Hash == "" {
		t.Fatalf("web after up --wait: %+v", web)
	}
	if worker.State != "running" || !testutil.Alive(worker.PID) {
		t.Fatalf("worker after up --wait: %+v", worker)
	}

	// The page is served on the published loopback port.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", c.port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "hello from the e2e test") {
		t.Errorf("GET published port: %q", body)
	}

	// exec runs inside the worker's sandbox with its environment and
	// returns the command's exit code.
	out, _, code := c.run("exec", "-T", "worker", "--", "/bin/busybox", "sh", "-c", "echo mode=$MODE pid1=$(cat /proc/1/comm); exit 7")
	if code != 7 || !strings.Contains(out, "mode=one") {
		t.Errorf("exec: code %d output %q, want 7 and mode=one", code, out)
	}

	testutil.WaitFor(t, "worker output in logs", 5*time.Second, func() bool {
		out, _, _ := c.run("logs", "worker")
		return strings.Contains(out, "worker | tick one")
	})

	// Editing the worker's environment restarts the worker only.
	c.write("two")
	testutil.WaitFor(t, "worker restarted with MODE=two", 10*time.Second, func() bool {
		w := c.ps()["worker"]
		return w.PID != worker.PID && w.State == "running"
	})
	if got := c.ps()["web"].PID; got != web.PID {
		t.Errorf("web pid %d after the worker's edit, want %d (untouched)", got, web.PID)
	}
	testutil.WaitFor(t, "new worker output", 5*time.Second, func() bool {
		out, _, _ := c.run("logs", "--tail", "3", "worker")
		return strings.Contains(out, "tick two")
	})
	worker = c.ps()["worker"]

	// stop is a manual stop: restart: always leaves it stopped; start ends it.
	c.must("stop", "worker")
	time.Sleep(300 * time.Millisecond)
	if w := c.ps("-a")["worker"]; w.State != "stopped" || testutil.Alive(worker.PID) {
		t.Fatalf("after stop: %+v (old pid alive %v)", w, testutil.Alive(worker.PID))
	}
	c.must("start", "worker")
	worker = c.ps()["worker"]
	if worker.State != "running" || !testutil.Alive(worker.PID) {
		t.Fatalf("after start: %+v", worker)
	}

	// SIGKILL of the supervisor: the services keep running and logging.
	if err := syscall.Kill(sup, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "supervisor gone", 5*time.Second, func() bool { return c.supervisorPID() == 0 })
	before, _, _ := c.run("logs", "worker")
	time.Sleep(600 * time.Millisecond)
	after, _, _ := c.run("logs", "worker")
	if len(after) <= len(before) {
		t.Errorf("worker stopped logging after the supervisor was killed")
	}
	ps = c.ps() // from the records
	if ps["web"].PID != web.PID || ps["worker"].PID != worker.PID || !testutil.Alive(web.PID) || !testutil.Alive(worker.PID) {
		t.Fatalf("after SIGKILL of the supervisor: %+v, want pids %d and %d running", ps, web.PID, worker.PID)
	}

	// The next up adopts both: same PIDs, nothing to do.
	out = c.must("up", "-d", "--wait", "--wait-timeout", "30s")
	if strings.Contains(out, "start ") || strings.Contains(out, "restart ") {
		t.Errorf("up after the crash did %q, want nothing", out)
	}
	ps = c.ps()
	if ps["web"].PID != web.PID || ps["worker"].PID != worker.PID {
		t.Fatalf("after re-adoption: web %d worker %d, want %d and %d", ps["web"].PID, ps["worker"].PID, web.PID, worker.PID)
	}

	// An invalid save changes nothing; ps shows the error with its position.
	c.writeYAML("name: " + c.project + "\nservices:\n  web:\n    comand: [x]\n")
	time.Sleep(600 * time.Millisecond) // debounce and a pass
	psOut, psErr, code := c.run("ps")
	if code != 0 || !strings.Contains(psErr, "nucleus.yaml:4:5") || !strings.Contains(psOut, "worker-1") {
		t.Errorf("ps with an invalid file: code %d\nstdout:\n%s\nstderr:\n%s", code, psOut, psErr)
	}
	ps = c.ps()
	if ps["web"].PID != web.PID || ps["worker"].PID != worker.PID {
		t.Errorf("an invalid save changed the running replicas: %+v", ps)
	}
	c.write("two")

	// down through the supervisor: nothing is left, and it is idempotent.
	c.must("down")
	for _, pid := range []int{web.PID, worker.PID} {
		if testutil.Alive(pid) {
			t.Errorf("pid %d still runs after down", pid)
		}
	}
	c.assertNoLeaks()
	c.assertNoIDRangeLease()
	c.must("down")
	if out := c.must("ps", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("ps after down: %s", out)
	}
}

// TestCLIDownWithoutSupervisor takes a project down from the state records
// after its supervisor was SIGKILLed.
func TestCLIDownWithoutSupervisor(t *testing.T) {
	c := newCLI(t)
	c.must("up", "-d", "--wait", "--no-watch")
	ps := c.ps()
	// --no-watch: an edit waits for SIGHUP.
	c.write("two")
	time.Sleep(700 * time.Millisecond)
	if got := c.ps()["worker"].PID; got != ps["worker"].PID {
		t.Fatalf("worker restarted (pid %d -> %d) without SIGHUP under --no-watch", ps["worker"].PID, got)
	}
	if err := syscall.Kill(c.supervisorPID(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "worker restarted after SIGHUP", 10*time.Second, func() bool {
		w := c.ps()["worker"]
		return w.PID != ps["worker"].PID && w.State == "running"
	})
	ps = c.ps()
	if err := syscall.Kill(c.supervisorPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "supervisor gone", 5*time.Second, func() bool { return c.supervisorPID() == 0 })
	c.must("down", "-v")
	for _, r := range ps {
		if testutil.Alive(r.PID) {
			t.Errorf("%s (pid %d) still runs after down", r.Service, r.PID)
		}
	}
	c.assertNoLeaks()
	if testutil.FileExists(api.SocketPath(c.rootdir(), c.project)) {
		t.Errorf("stale socket left")
	}
}

// TestCLIUpForeground streams the services' output with prefixes, and
// Ctrl-C (SIGINT) stops and removes everything.
func TestCLIUpForeground(t *testing.T) {
	c := newCLI(t)
	cmd := exec.Command(nucleusBin, "--root", c.root, "up", "--no-watch")
	cmd.Dir = c.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		b := make([]byte, 4096)
		var acc string
		for {
			n, err := stdout.Read(b)
			acc += string(b[:n])
			for {
				i := strings.IndexByte(acc, '\n')
				if i < 0 {
					break
				}
				select {
				case lines <- acc[:i]:
				default:
				}
				acc = acc[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	deadline := time.After(20 * time.Second)
	for found := false; !found; {
		select {
		case l := <-lines:
			if strings.HasPrefix(l, "worker | tick one") {
				found = true
			} else if strings.Contains(l, "\x1b[") {
				t.Errorf("colour codes on a pipe: %q", l)
			}
		case <-deadline:
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no `worker | tick one` line; stderr:\n%s", stderr.String())
		}
	}
	ps := c.ps()
	if !testutil.Alive(ps["worker"].PID) || !testutil.Alive(ps["web"].PID) {
		t.Fatalf("ps during foreground up: %+v", ps)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up after Ctrl-C: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("up did not stop after SIGINT; stderr:\n%s", stderr.String())
	}
	// The steps say why (they said "not in the files", which had not changed).
	if e := stderr.String(); !strings.Contains(e, "remove worker: the project goes down") || strings.Contains(e, "not in the files") {
		t.Errorf("stop steps after Ctrl-C: want 'remove worker: the project goes down'; stderr:\n%s", e)
	}
	for _, r := range ps {
		if testutil.Alive(r.PID) {
			t.Errorf("%s (pid %d) still runs after Ctrl-C", r.Service, r.PID)
		}
	}
	c.assertNoLeaks()
}

// TestCLIUpForegroundSecondInterrupt: the first Ctrl-C waits for the
// stop_grace_period of a workload that ignores SIGTERM; the second kills it
// at once.
func TestCLIUpForegroundSecondInterrupt(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + `
services:
  stubborn:
    command: ["/bin/busybox", "sh", "-c", "trap '' TERM; echo ready; while true; do /bin/busybox sleep 0.1; done"]
    stop_grace_period: 60s
`)
	cmd := exec.Command(nucleusBin, "--root", c.root, "up", "--no-watch")
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	testutil.WaitFor(t, "stubborn running", 20*time.Second, func() bool { return c.ps()["stubborn"].State == "running" })
	pid := c.ps()["stubborn"].PID
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		t.Fatalf("up exited (%v) before the grace period with one Ctrl-C:\n%s", err, out.String())
	case <-time.After(time.Second):
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("up did not end after the second Ctrl-C:\n%s", out.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Ctrl-C took %s", d)
	}
	if testutil.Alive(pid) {
		t.Errorf("stubborn (pid %d) still runs", pid)
	}
	c.assertNoLeaks()
}

// TestCLIUpWaitTimeout: up -d --wait gives up after --wait-timeout with
// exit code 1, naming the replica and the condition that blocked.
func TestCLIUpWaitTimeout(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + `
services:
  stuck:
    command: ["/bin/busybox", "sleep", "1000"]
    healthcheck: {tcp: 9, interval: 100ms}
    stop_grace_period: 0s
`)
	start := time.Now()
	_, errOut, code := c.run("up", "-d", "--wait", "--wait-timeout", "2s")
	if code != 1 || !strings.Contains(errOut, "stuck-1") || !strings.Contains(errOut, "health check (tcp 9)") {
		t.Errorf("up --wait on a never-healthy service: code %d, stderr:\n%s", code, errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("up --wait took %s with --wait-timeout 2s", d)
	}
	if st := c.ps()["stuck"]; st.State != "starting" && st.State != "unhealthy" {
		t.Errorf("stuck is %q, want starting or unhealthy", st.State)
	}
}

// TestCLIExecTerminal: exec gives the command a terminal when stdin is one,
// and none with -T.
func TestCLIExecTerminal(t *testing.T) {
	c := newCLI(t)
	c.must("up", "-d", "--wait", "--no-watch")
	probe := []string{"--", "/bin/busybox", "sh", "-c", "if [ -t 0 ] && [ -t 1 ]; then echo TTY; else echo NOTTY; fi"}
	onPty := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(nucleusBin, append([]string{"--root", c.root, "exec"}, args...)...)
		cmd.Dir = c.dir
		f, err := pty.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		out, _ := io.ReadAll(f) // EIO once the command has exited
		if err := cmd.Wait(); err != nil {
			t.Errorf("exec %v: %v (output %q)", args, err, out)
		}
		return string(out)
	}
	if out := onPty(append([]string{"worker"}, probe...)...); !strings.Contains(out, "TTY") || strings.Contains(out, "NOTTY") {
		t.Errorf("exec on a terminal printed %q, want TTY", out)
	}
	if out := onPty(append([]string{"-T", "worker"}, probe...)...); !strings.Contains(out, "NOTTY") {
		t.Errorf("exec -T on a terminal printed %q, want NOTTY", out)
	}
}

// TestCLIUpSelectedServices: up SERVICE starts that service and its
// dependencies only; a later up without arguments adds the rest and leaves
// what runs alone.
func TestCLIUpSelectedServices(t *testing.T) {
	c := newCLI(t)
	c.writeYAML("name: " + c.project + `
volumes:
  data: {}
services:
  db:
    command: ["/bin/busybox", "sh", "-c", "echo kept > /data/file; exec /bin/busybox sleep 1000"]
    volumes: ["data:/data"]
    stop_grace_period: 0s
  api:
    command: ["/bin/busybox", "sleep", "1000"]
    depends_on: [db]
    stop_grace_period: 0s
  extra:
    command: ["/bin/busybox", "sleep", "1000"]
    stop_grace_period: 0s
`)
	c.must("up", "-d", "--wait", "api")
	ps := c.ps()
	if len(ps) != 2 || ps["api"].State != "running" || ps["db"].State != "running" {
		t.Fatalf("up -d api: %+v, want api and db running", ps)
	}
	if _, _, code := c.run("up", "-d", "nope"); code != 2 {
		t.Errorf("up with an unknown service: exit code %d, want 2", code)
	}
	c.must("up", "-d", "--wait")
	all := c.ps()
	if len(all) != 3 || all["extra"].State != "running" || all["api"].PID != ps["api"].PID || all["db"].PID != ps["db"].PID {
		t.Fatalf("up -d after up -d api: %+v (before %+v)", all, ps)
	}

	// restart replaces the sandbox of that service only.
	c.must("restart", "db")
	again := c.ps()
	if again["db"].PID == all["db"].PID || again["db"].State != "running" || again["api"].PID != all["api"].PID {
		t.Errorf("restart db: %+v (before %+v)", again, all)
	}

	// down keeps named volumes; down -v (even with nothing running) removes them.
	vol := runtime.VolumeDir(c.rootdir(), c.project, "data")
	c.must("down")
	if b, err := os.ReadFile(filepath.Join(vol, "file")); err != nil || string(b) != "kept\n" {
		t.Errorf("named volume after down: %q %v, want it kept", b, err)
	}
	c.must("down", "-v")
	if testutil.FileExists(vol) {
		t.Errorf("named volume %s left after down -v", vol)
	}
}
