package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
)

// hubBackends are the hub's ways out the hub tests run with.
var hubBackends = []string{"slirp4netns", "pasta"}

// requireHelper requires the command of a userspace_backend.
func requireHelper(t *testing.T, backend string) {
	t.Helper()
	pkg := map[string]string{"pasta": "passt"}[backend]
	if pkg == "" {
		pkg = backend
	}
	testutil.RequireBinary(t, backend, "make deps installs it (Debian package "+pkg+")")
}

// TestRootlessHub: an ordinary user's project gets the shared hub: one
// service fetches from another by its name at the bridge's speed, a port
// published on 127.0.0.1 answers, an egress rule is enforced in the hub
// (the restricted service's connection is refused there and counted, its
// peer still answers), one helper (slirp4netns or pasta, as
// userspace_backend says) serves the project, and down leaves no process,
// namespace or file of the user.
func TestRootlessHub(t *testing.T) {
	for _, b := range hubBackends {
		t.Run(b, func(t *testing.T) { rootlessHub(t, b) })
	}
}

func rootlessHub(t *testing.T, backend string) {
	u := testutil.RootlessUser(t, testutil.UserA)
	testutil.RequireBinary(t, "nft", "nftables")
	testutil.RequireBinary(t, "nsenter", "util-linux")
	requireHelper(t, backend)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	port := testutil.FreePort(t)
	y := webClientYAML("rlhub", port, "    egress: {allow: [192.0.2.0/24]}\n", "userspace_backend: "+backend)
	defer rootlessUp(t, e, y)()
	// East-west by name, through the hub's bridge and resolver.
	r := e.Run(t, nucleusBin, "exec", "client", "--", "/bin/busybox", "wget", "-q", "-O-", "http://web:8080/")
	if r.Code != 0 || r.Stdout != "hello from web\n" {
		t.Errorf("client fetching http://web:8080/: %s", r)
	}
	if body := getPublished(t, port); body != "hello from web\n" {
		t.Errorf("GET 127.0.0.1:%d: %q", port, body)
	}
	// One holder of the hub, one helper of the backend for the project,
	// none of the other.
	holder, helpers, others := 0, 0, 0
	for _, p := range e.Processes() {
		f := strings.Fields(p)
		if len(f) < 4 {
			continue
		}
		switch {
		case strings.Contains(p, " nucleus-hub-holder "):
			holder, _ = strconv.Atoi(f[0])
		case strings.Contains(p, " "+backend+" "):
			helpers++
		case strings.Contains(p, " slirp4netns ") || strings.Contains(p, " pasta "):
			others++
		}
	}
	if holder == 0 || helpers != 1 || others != 0 {
		t.Fatalf("want a hub holder and one %s of the user, got holder %d, %d %s, %d other helpers: %q", backend, holder, helpers, backend, others, e.Processes())
	}
	denied := func() int {
		out, err := exec.Command("nsenter", "-t", strconv.Itoa(holder), "-n", "nft", "list", "counters").CombinedOutput()
		if err != nil {
			t.Fatalf("nft list counters in the hub: %v: %s", err, out)
		}
		n := 0
		for _, m := range regexp.MustCompile(`counter deny_\S+ \{\s*packets (\d+)`).FindAllStringSubmatch(string(out), -1) {
			v, _ := strconv.Atoi(m[1])
			n += v
		}
		return n
	}
	before := denied()
	// 10.0.2.100, the hub's own address on tap0 (the default network does
	// not overlap 10.0.2.0/24), is outside client's allow list; were it
	// let through, it would still end in the hub, never with the helper.
	r = e.Run(t, nucleusBin, "exec", "client", "--", "/bin/busybox", "timeout", "5", "/bin/busybox", "wget", "-q", "-O-", "http://10.0.2.100:1/")
	if r.Code == 0 || !strings.Contains(r.Stderr, "Connection refused") {
		t.Errorf("client connecting outside its egress rules: want refused by the hub, got %s", r)
	}
	if after := denied(); after <= before {
		t.Errorf("deny counters in the hub: %d before, %d after a connection outside the rules", before, after)
	}
}

// TestRootlessRunOnHub: a one-off `run` with a published port as an
// ordinary user gets a network on the rootless hub, so its sandbox must join
// the run's project user namespace (before, attaching it failed: open
// network namespace of pid N: permission denied); nothing is left after.
func TestRootlessRunOnHub(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	port := testutil.FreePort(t)
	r := e.Run(t, nucleusBin, "run", "--rm", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), "--", "/bin/busybox", "echo", "hi")
	if r.Code != 0 || r.Stdout != "hi\n" {
		t.Errorf("run --rm -p as %s: %s", u.Name, r)
	}
	if left := e.Processes(); len(left) > 0 {
		t.Errorf("processes of %s left after run --rm: %q", u.Name, left)
	}
}
