package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
)

// TestRootlessUpPublishedPort: an ordinary user brings up a project whose
// service publishes a port on 127.0.0.1; the host (root here; any user
// could) fetches from it through the user's own slirp4netns; down leaves
// no process, namespace or file of the user behind.
func TestRootlessUpPublishedPort(t *testing.T) {
	for _, helper := range []string{"auto", "pasta"} {
		t.Run(helper, func(t *testing.T) { rootlessUpPublished(t, helper) })
	}
}

func rootlessUpPublished(t *testing.T, helper string) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	port := testutil.FreePort(t)
	y := fmt.Sprintf("name: rlweb\nservices:\n  web:\n"+
		"    command: [/bin/sh, -c, \"mkdir /tmp/s && echo hello from a rootless sandbox >/tmp/s/index.html && exec /bin/busybox httpd -f -p 8080 -h /tmp/s\"]\n"+
		"    ports: [\"127.0.0.1:%d:8080\"]\n"+
		"networks:\n  default: {userspace_backend: %s}\n", port, helper)
	defer rootlessUp(t, e, y)()
	if body := getPublished(t, port); body != "hello from a rootless sandbox\n" {
		t.Errorf("GET 127.0.0.1:%d: %q", port, body)
	}
	// The port is forwarded by a helper of the user, not of root.
	want := map[string]string{"auto": "slirp4netns", "pasta": "pasta"}[helper]
	helpers := 0
	for _, p := range e.Processes() {
		if strings.Contains(p, " "+want+" ") {
			helpers++
		}
	}
	if helpers != 1 {
		t.Errorf("want one %s of the user, got %d: %q", want, helpers, e.Processes())
	}
}

// TestRootlessLowPortRefused: publishing port 80 as an ordinary user is
// refused by up, run -p and run --service-ports before anything starts (up
// started the supervisor and the network first; run SERVICE
// --service-ports started the service's dependencies and failed only when
// attaching), naming the file, line and key (up, --service-ports) or the
// flag (run -p) and the sysctl. run SERVICE without --service-ports, and
// the start of its dependencies, are not refused for the service's port.
func TestRootlessLowPortRefused(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	y := "name: rllow\nservices:\n  web:\n    command: /bin/busybox httpd -f -p 8080\n    ports: [\"127.0.0.1:80:8080\"]\n" +
		"    depends_on: [db]\n  db:\n    command: /bin/busybox sleep 1000\n"
	if err := os.WriteFile(filepath.Join(e.Home, "nucleus.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	nothingStarted := func(what string) {
		t.Helper()
		if left := e.Processes(); len(left) > 0 {
			t.Errorf("%s as %s: processes of the user left: %q", what, u.Name, left)
		}
		for _, d := range []string{"projects/rllow", "supervisors", "userns", "userspace-net", "network"} {
			if _, err := os.Stat(filepath.Join(e.Root.Run, d)); err == nil {
				t.Errorf("%s as %s: %s exists", what, u.Name, filepath.Join(e.Root.Run, d))
			}
		}
	}
	r := e.Run(t, nucleusBin, "up", "-d", "--wait")
	want := "nucleus: nucleus.yaml:5:5: services.web.ports: published port 80/tcp is below net.ipv4.ip_unprivileged_port_start="
	if r.Code == 0 || !strings.HasPrefix(r.Stderr, want) || strings.Contains(r.Stderr, "supervisor") {
		t.Errorf("up publishing port 80 as %s: want a failure starting %q and no supervisor: %s", u.Name, want, r)
	}
	nothingStarted("up")
	e.Run(t, nucleusBin, "down", "-t", "1")

	r = e.Run(t, nucleusBin, "run", "--rm", "-p", "127.0.0.1:80:8080", "--", "/bin/busybox", "true")
	want = `nucleus run: --publish "127.0.0.1:80:8080": published port 80/tcp is below net.ipv4.ip_unprivileged_port_start=`
	if r.Code != 125 || !strings.HasPrefix(r.Stderr, want) {
		t.Errorf("run -p 80 as %s: want exit 125 and %q...: %s", u.Name, want, r)
	}
	nothingStarted("run -p")

	want = "nucleus run: nucleus.yaml:5:5: services.web.ports: published port 80/tcp is below net.ipv4.ip_unprivileged_port_start="
	for _, deps := range [][]string{nil, {"--no-deps"}} {
		args := append(append([]string{"run", "--rm", "--service-ports"}, deps...), "web", "/bin/busybox", "true")
		r = e.Run(t, nucleusBin, args...)
		if r.Code != 125 || !strings.HasPrefix(r.Stderr, want) {
			t.Errorf("%v (port 80) as %s: want exit 125 and %q...: %s", args, u.Name, want, r)
		}
		nothingStarted(strings.Join(args, " "))
	}

	// Without --service-ports run publishes none of web's ports: neither
	// it nor the start of its dependency db is refused for web's port 80.
	r = e.Run(t, nucleusBin, "run", "--rm", "web", "/bin/busybox", "true")
	if r.Code != 0 {
		t.Errorf("run web (no ports published) as %s: %s", u.Name, r)
	}
	downLeavesNothing(t, e)
}

// rootlessUp writes y as the user's nucleus.yaml and brings it up (up -d
// --wait, fatal on failure); the returned func brings it down and checks
// that no process of the user is left 5 s later and that the user wrote
// nothing outside its XDG dirs.
func rootlessUp(t *testing.T, e *testutil.UserEnv, y string) func() {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.Home, "nucleus.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.Run(t, nucleusBin, "up", "-d", "--wait")
	down := func() { downLeavesNothing(t, e) }
	if r.Code != 0 {
		down()
		t.Fatalf("up -d --wait as %s: %s", e.User.Name, r)
	}
	return down
}

// downLeavesNothing runs down as e's user and checks that nothing of the
// project is left: no process of the user (keeper, hub holder,
// slirp4netns), no user namespace or hub directory, nothing outside the
// user's XDG dirs.
func downLeavesNothing(t *testing.T, e *testutil.UserEnv) {
	t.Helper()
	if r := e.Run(t, nucleusBin, "down", "-t", "1"); r.Code != 0 {
		t.Errorf("down: %s", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.Processes()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := e.Processes(); len(left) > 0 {
		t.Errorf("processes of %s left 5s after down: %q", e.User.Name, left)
	}
	for _, d := range []string{"userns", "userspace-net"} {
		if _, err := os.Stat(filepath.Join(e.Root.Run, d)); err == nil {
			t.Errorf("%s left after down", filepath.Join(e.Root.Run, d))
		}
	}
	if left := e.FilesOutside("/var/lib/nucleus*", "/run/nucleus*", "/tmp/nucleus-[0-9]*"); len(left) > 0 {
		t.Errorf("the user wrote outside its XDG dirs: %q", left)
	}
}

// getPublished fetches / from 127.0.0.1:port, waiting up to 10 s for it to
// answer, and returns the body.
func getPublished(t *testing.T, port int) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	var body string
	testutil.WaitFor(t, "the published port to answer", 10*time.Second, func() bool {
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return true
	})
	return body
}

// TestRootlessUsernsHostOnHub: userns: host with a network as an ordinary
// user ("keep my uid" on the project's hub): the service runs as the user
// with its cap_add (NET_BIND_SERVICE: httpd on port 80 of its own network
// namespace), is reached by its published port and by name from a peer,
// and exec inside has the same uid and capabilities. Before, attaching it
// failed (open network namespace of pid N: permission denied): its user
// namespace was a sibling of the project's, where the hub lives.
func TestRootlessUsernsHostOnHub(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	testutil.RequireBinary(t, "nsenter", "util-linux")
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	port := testutil.FreePort(t)
	y := fmt.Sprintf("name: rlhost\nservices:\n  web:\n"+
		"    command: [/bin/sh, -c, \"mkdir /tmp/s && id -u >/tmp/s/index.html && exec /bin/busybox httpd -f -p 80 -h /tmp/s\"]\n"+
		"    cap_add: [NET_BIND_SERVICE]\n"+
		"    security: {userns: host}\n"+
		"    ports: [\"127.0.0.1:%d:80\"]\n"+
		"  client:\n    command: [/bin/busybox, sleep, \"3600\"]\n", port)
	defer rootlessUp(t, e, y)()
	uid := fmt.Sprint(u.UID)
	if body := getPublished(t, port); body != uid+"\n" {
		t.Errorf("GET 127.0.0.1:%d (web's id -u): %q, want %s", port, body, uid)
	}
	r := e.Run(t, nucleusBin, "exec", "client", "--", "/bin/busybox", "wget", "-q", "-O-", "http://web:80/")
	if r.Code != 0 || r.Stdout != uid+"\n" {
		t.Errorf("client fetching http://web:80/: %s", r)
	}
	r = e.Run(t, nucleusBin, "exec", "web", "--", "/bin/sh", "-c", "id -u; grep -E '^Cap(Eff|Prm|Amb)' /proc/self/status")
	for _, w := range []string{uid + "\n", "CapEff:\t0000000000000400", "CapPrm:\t0000000000000400", "CapAmb:\t0000000000000400"} {
		if r.Code != 0 || !strings.Contains(r.Stdout, w) {
			t.Errorf("exec web: want %q: %s", w, r)
		}
	}
}
