package network

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/keeper"
	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/spec"
)

const (
	rlDomainEnv      = "NUCLEUS_TEST_RL_DOMAIN"
	sandboxClientEnv = "NUCLEUS_TEST_SANDBOX_CLIENT"
)

// rlDomain is what the root half of a rootless domain test hands the
// unprivileged half.
type rlDomain struct {
	Upstream string   // a DNS server on the host's loopback
	Target   string   // ADDR:PORT of api.test, answering "api:" + what it reads
	Names    []string // more names under .test, each with an address of its own
}

// rlDomainRun runs the helper test or benchmark named run as the test
// user A, with a namespace standing in for the world (api.test), an
// upstream answering api.test and names more names, and "nsenter" on the
// user's PATH logging every hub operation the helper starts into the
// returned file's lines.
func rlDomainRun(t testing.TB, names int, args ...string) (testutil.Result, []string) {
	u := testutil.RootlessUser(t, testutil.UserA)
	for _, c := range []string{"nsenter", "unshare"} {
		testutil.RequireBinary(t, c, "util-linux")
	}
	requireSlirp4netns(t)
	o := newOutside(t)
	serveEcho(t, o.pid, o.addr+":8080", "api:")
	answers := map[string]string{"api.test.": o.addr}
	c := rlDomain{Target: o.addr + ":8080"}
	for i := range names {
		n := fmt.Sprintf("h%d.test", i)
		answers[n+"."] = fmt.Sprintf("198.19.%d.%d", i/250, i%250+1) // never sent to
		c.Names = append(c.Names, n)
	}
	c.Upstream = startUpstream(t, answers, 60)
	e := testutil.NewUserEnv(t, u)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := e.CopyExecutable(t, self, "network.test")
	realNsenter, _ := exec.LookPath("nsenter")
	log := filepath.Join(e.Dir, "hubops.log")
	wrapDir := filepath.Join(e.Dir, "bin")
	testutil.WriteFiles(t, wrapDir, map[string]string{"nsenter": "#!/bin/sh\nprintf '%s\\n' \"$" + hubOpEnv + "\" >>" + log + "\nexec " + realNsenter + " \"$@\"\n"})
	for _, p := range []string{wrapDir, filepath.Join(wrapDir, "nsenter")} {
		os.Chmod(p, 0o755)
		os.Chown(p, u.UID, u.GID)
	}
	b, _ := json.Marshal(c)
	e.Env = append(e.Env, "PATH="+wrapDir+":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", rlDomainEnv+"="+string(b))
	r := e.Run(t, bin, args...)
	var ops []string
	if f, err := os.Open(log); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var op hubOp
			if json.Unmarshal(sc.Bytes(), &op) == nil {
				ops = append(ops, op.Op)
			}
		}
		f.Close()
	}
	return r, ops
}

// TestRootlessHubDomainEgress: in an ordinary user's hub, a domain egress
// rule lets the sandbox reach the name's address right after the answer
// (the set is filled before the reply goes out: the first connection is
// not refused), and not before; and answers are added to the set over one
// netfilter socket in the hub, not by a helper process each (before, 21
// answers started 21 helpers, a few ms each).
func TestRootlessHubDomainEgress(t *testing.T) {
	const more = 20
	r, ops := rlDomainRun(t, more, "-test.run=^TestRootlessHubDomainEgressHelper$", "-test.v", "-test.count=1")
	if r.Code != 0 || !strings.Contains(r.Stdout, "--- PASS: TestRootlessHubDomainEgressHelper") {
		t.Fatalf("helper as the test user: %s", r)
	}
	var perAnswer []string
	for _, op := range ops {
		if op == "allow" || op == "nftsock" {
			perAnswer = append(perAnswer, op)
		}
	}
	if len(perAnswer) > 1 {
		t.Errorf("hub helpers started for %d answers of allowed names: %d (%v); want at most one (the socket)", more+1, len(perAnswer), perAnswer)
	}
}

// TestRootlessHubDomainEgressHelper is the unprivileged half of
// TestRootlessHubDomainEgress.
func TestRootlessHubDomainEgressHelper(t *testing.T) {
	c := rlDomainCase(t)
	h := newRLHub(t, c)
	// Before any answer, api.test's address is refused at once.
	if res := h.client(t, clientJob{Connect: c.Target}); !res.Refused {
		t.Fatalf("connect to %s before resolving api.test: %+v; want refused", c.Target, res)
	}
	// Resolve, then connect at once: the first connection gets through.
	res := h.client(t, clientJob{Names: []string{"api.test"}, Connect: c.Target})
	if res.Err != "" || res.Talk != "api:hi" {
		t.Fatalf("resolve api.test and connect to %s right after: %+v; want api:hi", c.Target, res)
	}
	// More answers: every address is in the set when its reply arrives.
	res = h.client(t, clientJob{Names: c.Names})
	if res.Err != "" || len(res.Addrs) != len(c.Names) {
		t.Fatalf("resolve %d names: %+v", len(c.Names), res)
	}
	els, err := h.allowed()
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range res.Addrs {
		if len(a) != 1 || !slices.Contains(els, a[0]) {
			t.Errorf("%s answered %v; the domain set holds %v", c.Names[i], a, els)
		}
	}
}

// BenchmarkRootlessHubDomainAllow: how long a sandbox in an ordinary
// user's hub waits for the answer of an allowed name, each answer a new
// address the resolver puts into the domain set before replying (median
// of 400 names; the helper runs as test user A), next to the same with
// root's hub in the same run (ms/allowed-answer-root: the set changed
// from the supervisor's thread in the hub) and a name of the project (no
// upstream, no set). Run once: -bench RootlessHubDomainAllow -benchtime 1x.
func BenchmarkRootlessHubDomainAllow(b *testing.B) {
	const names = 400
	r, ops := rlDomainRun(b, names, "-test.run=^$", "-test.bench=^BenchmarkRootlessHubDomainAllowHelper$", "-test.benchtime=1x", "-test.count=1")
	if r.Code != 0 || !strings.Contains(r.Stdout, "BenchmarkRootlessHubDomainAllowHelper") {
		b.Fatalf("helper as the test user: %s", r)
	}
	for _, l := range strings.Split(r.Stdout, "\n") {
		if strings.HasPrefix(l, "BenchmarkRootlessHubDomainAllowHelper") {
			b.Log(l)
			for _, m := range []string{"ms/allowed-answer", "ms/project-answer"} {
				f := strings.Fields(l)
				if i := slices.Index(f, m); i > 0 {
					v, _ := strconv.ParseFloat(f[i-1], 64)
					b.ReportMetric(v, m)
				}
			}
		}
	}
	n := 0
	for _, op := range ops {
		if op == "allow" || op == "nftsock" {
			n++
		}
	}
	b.ReportMetric(float64(n), "helpers")

	// Root's hub, same upstream and names.
	answers := map[string]string{}
	var job clientJob
	for i := range names {
		n := fmt.Sprintf("h%d.test", i)
		answers[n+"."] = fmt.Sprintf("198.19.%d.%d", i/250, i%250+1)
		job.Names = append(job.Names, n)
	}
	up := startUpstream(b, answers, 60)
	e := newEnv(b)
	ni := e.usNetwork("eg", func(n *Config) { n.DNS = []string{up} })
	pid := sandbox(b)
	e.attach(Attachment{Network: "eg", Service: "web", PID: pid, Egress: &Egress{Allow: []EgressRule{{Domain: "*.test"}}}})
	job.Server = ni.Gateway
	res := sandboxClient(b, job, "-t", strconv.Itoa(pid), "-n")
	if res.Err != "" || len(res.Took) != names {
		b.Fatalf("root's hub: resolve %d names: %+v", names, res)
	}
	b.ReportMetric(float64(testutil.Median(res.Took))/1e6, "ms/allowed-answer-root")
}

// BenchmarkRootlessHubDomainAllowHelper is the unprivileged half of
// BenchmarkRootlessHubDomainAllow: median per answer, in one client that
// asks for every name in turn.
func BenchmarkRootlessHubDomainAllowHelper(b *testing.B) {
	c := rlDomainCase(b)
	h := newRLHub(b, c)
	for range b.N {
		res := h.client(b, clientJob{Names: c.Names})
		if res.Err != "" || len(res.Took) != len(c.Names) {
			b.Fatalf("resolve %d names: %+v", len(c.Names), res)
		}
		proj := make([]string, len(c.Names))
		for i := range proj {
			proj[i] = "web"
		}
		pr := h.client(b, clientJob{Names: proj})
		if pr.Err != "" {
			b.Fatalf("resolve web: %+v", pr)
		}
		b.ReportMetric(float64(testutil.Median(res.Took))/1e6, "ms/allowed-answer")
		b.ReportMetric(float64(testutil.Median(pr.Took))/1e6, "ms/project-answer")
	}
}

func rlDomainCase(t testing.TB) rlDomain {
	arg := os.Getenv(rlDomainEnv)
	if arg == "" {
		t.Skip("helper of a rootless domain test, run as the test user")
	}
	testutil.Require(t, os.Geteuid() != 0, "helper runs unprivileged")
	var c rlDomain
	if err := json.Unmarshal([]byte(arg), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// rlHub is an ordinary user's network on the rootless hub with one
// stand-in sandbox (service web) allowed *.test.
type rlHub struct {
	m       *Manager
	project string
	gw      string
	pid     int
}

func newRLHub(t testing.TB, c rlDomain) *rlHub {
	t.Helper()
	root := rootdir.Root{Run: filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "nucleus"), Data: filepath.Join(os.Getenv("XDG_DATA_HOME"), "nucleus")}
	m, err := NewManager(root)
	if err != nil {
		t.Fatal(err)
	}
	h := &rlHub{m: m, project: "rl" + testutil.RandHex(4)}
	ctx := context.Background()
	socketsBefore := openSockets()
	t.Cleanup(func() {
		if err := m.RemoveProject(context.Background(), h.project); err != nil {
			t.Errorf("RemoveProject: %v", err)
		}
		m.Close()
		if left, err := LeakCheck(root); err != nil || len(left) > 0 {
			t.Errorf("LeakCheck: %v\n%s", err, strings.Join(left, "\n"))
		}
		// A socket made in the hub (the resolver's, the netfilter one)
		// would keep its namespace alive.
		if n := openSockets(); n > socketsBefore {
			t.Errorf("%d sockets open after the project was removed, %d before", n, socketsBefore)
		}
	})
	ni, err := m.EnsureNetwork(ctx, h.project, &Config{Name: "eg", NAT: spec.NATUserspace, DNS: []string{c.Upstream}})
	if err != nil {
		t.Fatal(err)
	}
	h.gw = ni.Gateway
	k, ok := keeper.Find(keeper.ProjectDir(root.Run, h.project))
	if !ok {
		t.Fatalf("no keeper of the project's user namespace: the network is not on the rootless hub")
	}
	// A stand-in sandbox: a process in the project's user namespace with
	// a network namespace of its own (nsenter and unshare exec in place).
	cmd := exec.Command("nsenter", "--user="+k.UserNSPath(), "--preserve-credentials", "--", "unshare", "--net", "--", "sleep", "900")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	h.pid = cmd.Process.Pid
	testutil.WaitFor(t, "stand-in sandbox started", 5*time.Second, func() bool {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", h.pid))
		return string(comm) == "sleep\n"
	})
	if _, err := m.Attach(ctx, Attachment{Project: h.project, Network: "eg", Service: "web", PID: h.pid,
		Egress: &Egress{Allow: []EgressRule{{Domain: "*.test"}}}}); err != nil {
		t.Fatal(err)
	}
	return h
}

// allowed lists the addresses in web's domain set (nft in the hub).
func (h *rlHub) allowed() ([]string, error) {
	n, err := h.m.loadNetwork(h.project, "eg")
	if err != nil {
		return nil, err
	}
	a := n.Attachments[attachKey("web", 1)]
	if a == nil {
		return nil, errors.New("web is not attached")
	}
	hub, err := h.m.userspace.(*userspaceBackend).hubOf(n)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command("nsenter", "--user="+hub.userns.UserNSPath(), "--net="+hub.pin(), "--preserve-credentials", "--",
		"nft", "list", "set", "ip", hubTable, "dom_"+a.HostIf).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("nft list set in the hub: %v: %s", err, out)
	}
	return strings.FieldsFunc(string(out), func(r rune) bool { return r == ' ' || r == ',' || r == '\n' || r == '\t' || r == '{' || r == '}' }), nil
}

// clientJob is what the client in the stand-in sandbox does: resolve each
// name through the gateway in turn, then connect to Connect at once.
type clientJob struct {
	Server  string
	Names   []string
	Connect string
}

type clientResult struct {
	Addrs   [][]string
	Took    []time.Duration
	Talk    string
	Refused bool
	Err     string
}

func (h *rlHub) client(t testing.TB, j clientJob) clientResult {
	t.Helper()
	j.Server = h.gw
	return sandboxClient(t, j, "-t", strconv.Itoa(h.pid), "-U", "-n", "--preserve-credentials")
}

// sandboxClient runs j in this binary started by nsenter with args.
func sandboxClient(t testing.TB, j clientJob, args ...string) clientResult {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(j)
	cmd := exec.Command("nsenter", append(args, "--", self)...)
	cmd.Env = append(os.Environ(), sandboxClientEnv+"="+string(b))
	out, err := cmd.Output()
	var r clientResult
	if err != nil || json.Unmarshal(out, &r) != nil {
		t.Fatalf("client in the sandbox: %v: %q", err, out)
	}
	return r
}

// runSandboxClient does the job of a client started in a sandbox.
func runSandboxClient() {
	arg := os.Getenv(sandboxClientEnv)
	if arg == "" {
		return
	}
	var j clientJob
	var r clientResult
	if err := json.Unmarshal([]byte(arg), &j); err != nil {
		r.Err = err.Error()
	}
	for _, n := range j.Names {
		if r.Err != "" {
			break
		}
		start := time.Now()
		ips, err := resolve(0, j.Server, n)
		r.Took = append(r.Took, time.Since(start))
		if err != nil {
			r.Err = fmt.Sprintf("resolve %s: %v", n, err)
		}
		r.Addrs = append(r.Addrs, ips)
	}
	if r.Err == "" && j.Connect != "" {
		got, err := talk(0, j.Connect, 3*time.Second)
		r.Talk, r.Refused = got, errors.Is(err, syscall.ECONNREFUSED)
		if err != nil {
			r.Err = err.Error()
		}
	}
	json.NewEncoder(os.Stdout).Encode(r) //nolint:errcheck // the caller reports a missing answer
	os.Exit(0)
}

// openSockets counts this process's open sockets.
func openSockets() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}
