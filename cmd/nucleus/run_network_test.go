package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/network"
)

func httpGet(url string) (string, error) {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestRunPublish: `run -p` without --network serves on 127.0.0.1 through a
// private network, stops on SIGTERM, and leaves nothing behind.
func TestRunPublish(t *testing.T) {
	c := newCLI(t)
	port := testutil.FreePort(t)
	cmd := exec.Command(nucleusBin, "--root", c.root, "run", "-p", "127.0.0.1:"+strconv.Itoa(port)+":8080",
		"-v", "./site:/srv:ro", "--", "/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv")
	cmd.Dir = c.dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var body string
	testutil.WaitFor(t, "the published page", 10*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("nucleus run exited early: %v\n%s", err, errb.String())
		default:
		}
		body, _ = httpGet("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		return body != ""
	})
	if body != "hello from the e2e test\n" {
		t.Errorf("page %q", body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		// httpd dies of the forwarded SIGTERM: 128+15.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
			t.Errorf("after SIGTERM: %v, want exit code 143\n%s", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("nucleus run did not exit after SIGTERM")
	}
	if strings.Contains(errb.String(), "clean up") {
		t.Errorf("cleanup error: %s", errb.String())
	}
	if _, err := httpGet("http://127.0.0.1:" + strconv.Itoa(port) + "/"); err == nil {
		t.Errorf("port %d still answers after the run", port)
	}
	c.assertNoLeaks()
}

// TestRunNetworkWithSupervisor: a one-off sandbox on the network of a
// running project resolves a service by name and reaches it; the project
// keeps its network and supervisor; a port the project publishes is refused.
func TestRunNetworkWithSupervisor(t *testing.T) {
	c := newCLI(t)
	c.must("up", "-d", "--wait")
	sup := c.supervisorPID()
	// (busybox wget's -T crashes busybox-static 1.x, even on the host.)
	out := c.must("run", "--network", "default", "--", "/bin/busybox", "wget", "-q", "-O", "-", "http://web:8080/")
	if out != "hello from the e2e test\n" {
		t.Errorf("wget web:8080 from the run: %q", out)
	}
	out = c.must("run", "--network", "default", "--", "/bin/busybox", "sh", "-c",
		"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 web."+c.project+" 8080 | /bin/busybox head -1")
	if !strings.HasPrefix(out, "HTTP/1.") {
		t.Errorf("nc web.%s 8080: %q, want an HTTP answer", c.project, out)
	}
	// The project's own published port is taken: refused before start.
	_, errs, code := c.run("run", "--network", "default", "-p", "127.0.0.1:"+strconv.Itoa(c.port)+":8080", "--", "/bin/true")
	if code != 125 || !strings.Contains(errs, strconv.Itoa(c.port)) || !strings.Contains(errs, "attach to network default: ") {
		t.Errorf("conflicting port: code %d stderr %q, want 125 naming the attach to default and port %d", code, errs, c.port)
	}
	// A command that does not exist fails after the attach: undone too.
	_, errs, code = c.run("run", "--network", "default", "--", "/no/such/command")
	if code != 127 || !strings.Contains(errs, "start workload: ") {
		t.Errorf("missing command: code %d stderr %q, want 127 naming the start", code, errs)
	}
	if ids, _ := os.ReadDir(c.rootdir().Run + "/sandboxes"); len(ids) != 2 {
		t.Errorf("sandboxes after the runs: %v, want web's and worker's", ids)
	}
	m, err := network.NewManager(c.rootdir())
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := m.NetworkExists(c.project, "default"); !ok || err != nil {
		t.Errorf("project network after the runs: exists %v %v", ok, err)
	}
	rec, err := os.ReadFile(c.rootdir().Run + "/network/" + c.project + "/default.json")
	if err != nil || strings.Contains(string(rec), "run-") {
		t.Errorf("the runs left an attachment or address in the network record (%v):\n%s", err, rec)
	}
	if pid := c.supervisorPID(); pid != sup || !testutil.Alive(pid) {
		t.Errorf("supervisor %d before the runs, %d after", sup, pid)
	}
	if body, err := httpGet("http://127.0.0.1:" + strconv.Itoa(c.port) + "/"); err != nil || body == "" {
		t.Errorf("web after the runs: %q %v", body, err)
	}
	c.must("down", "--timeout", "0s")
}

// TestRunNetworkWithoutSupervisor: the run creates the project network,
// serves its DNS itself (its own name resolves), and removes it on exit.
func TestRunNetworkWithoutSupervisor(t *testing.T) {
	c := newCLI(t)
	name := "rn" + strconv.Itoa(os.Getpid())
	out := c.must("run", "--name", name, "--hostname", "hn1", "--network", "default", "--", "/bin/busybox", "sh", "-c",
		"/bin/busybox ip -4 -o addr show eth0; /bin/busybox nslookup "+name+" 2>&1; cat /etc/hosts")
	fields := strings.Fields(out)
	if len(fields) < 4 || fields[1] != "eth0" {
		t.Fatalf("no eth0 address in the run:\n%s", out)
	}
	ip := strings.Split(fields[3], "/")[0]
	// eth0's address, the DNS answer (served by this run: no supervisor)
	// and the hostname line of /etc/hosts.
	if !strings.Contains(out, "Address: "+ip+"\n") || !strings.Contains(out, ip+"\thn1") {
		t.Errorf("%s does not resolve to its address %s everywhere:\n%s", name, ip, out)
	}
	c.assertNoLeaks()
}

// TestRunNetworkErrors: a missing network or project, a bad or busy port
// are setup errors (125) that say what is wrong; --project-name works
// before and after "run" although -p means --publish there.
func TestRunNetworkErrors(t *testing.T) {
	c := newCLI(t)
	_, errs, code := c.run("run", "--network", "nope", "--", "/bin/true")
	if code != 125 || !strings.Contains(errs, `no network "nope"`) || !strings.Contains(errs, "its networks: default") {
		t.Errorf("unknown network: code %d stderr %q", code, errs)
	}
	for _, args := range [][]string{{"--project-name", "other", "run"}, {"run", "--project-name", "other"}} {
		_, errs, code = c.run(append(args, "--network", "nope", "--", "/bin/true")...)
		if code != 125 || !strings.Contains(errs, "project other has no network") {
			t.Errorf("%v: code %d stderr %q, want the project named other", args, code, errs)
		}
	}
	_, errs, code = c.run("-f", t.TempDir()+"/nucleus.yaml", "run", "--network", "default", "--", "/bin/true")
	if code != 125 || !strings.Contains(errs, "--network needs a project") {
		t.Errorf("no project: code %d stderr %q", code, errs)
	}
	_, errs, code = c.run("run", "-p", "notaport", "--", "/bin/true")
	if code != 125 || !strings.Contains(errs, "--publish") || !strings.Contains(errs, "--project-name") {
		t.Errorf("bad port: code %d stderr %q", code, errs)
	}
	// A port held by a process of the test.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_, errs, code = c.run("run", "-p", "127.0.0.1:"+port+":8080", "--", "/bin/true")
	if code != 125 || !strings.Contains(errs, port) || !strings.Contains(errs, "attach to network run: ") {
		t.Errorf("busy port: code %d stderr %q, want 125 naming the attach and port %s", code, errs, port)
	}
	c.assertNoLeaks()
}

// TestRunThatFailsToStartLeavesNothing: `run -p` of a command that does
// not exist fails after its sandbox was attached to its private network
// (exit 127, the step named); the undo and the run's end leave nothing
// (sandbox, veth, address, network).
func TestRunThatFailsToStartLeavesNothing(t *testing.T) {
	c := newCLI(t)
	_, errs, code := c.run("run", "-p", "127.0.0.1:"+strconv.Itoa(testutil.FreePort(t))+":8080", "--", "/no/such/command")
	if code != 127 || !strings.Contains(errs, "start workload: ") || !strings.Contains(errs, "/no/such/command") {
		t.Errorf("missing command: code %d stderr %q, want 127 naming the start and the command", code, errs)
	}
	c.assertNoLeaks()
}
