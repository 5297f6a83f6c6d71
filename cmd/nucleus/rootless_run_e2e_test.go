package main

import (
	"bufio"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/leaktest"
	"nucleus/internal/procstat"
	"nucleus/internal/testutil"
)

// statusLines is a shell command printing the isolation fields of its own
// /proc status and trying to write where only Landlock forbids it (/dev
// is a writable tmpfs).
const statusLines = `grep -E '^(Uid|Gid|CapEff|CapPrm|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; ` +
	`if echo x >/dev/.probe 2>/dev/null; then echo devwrite ok; else echo devwrite denied; fi`

// TestRootlessRun: an ordinary user with subordinate ranges runs a one-off
// sandbox: root inside is the user outside, the rest of its ids come from
// its range, every default isolation holds, the exit code comes through,
// the state stays in its XDG dirs (0700), and nothing is left.
func TestRootlessRun(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)

	r := e.Run(t, nucleusBin, "run", "--", "/bin/sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; "+statusLines+"; exit 7")
	if r.Code != 7 {
		t.Fatalf("want exit 7: %s", r)
	}
	// One space between fields (uid_map pads with spaces, status with tabs).
	var lines []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	out := strings.Join(lines, "\n")
	if lines[0] != "0" {
		t.Errorf("id -u inside = %q, want 0", lines[0])
	}
	for _, want := range []string{
		"0 " + strconv.Itoa(u.UID) + " 1\n", "1 " + strconv.Itoa(u.SubUID[0]) + " 65535\n",
		"0 " + strconv.Itoa(u.GID) + " 1\n", "1 " + strconv.Itoa(u.SubGID[0]) + " 65535\n",
		"CapEff: 0000000000000000", "CapPrm: 0000000000000000", "CapAmb: 0000000000000000",
		"NoNewPrivs: 1", "Seccomp: 2", "devwrite denied",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q: %s", want, r)
		}
	}
	if strings.Contains(r.Stderr, "not enforced") {
		t.Errorf("a run without limits printed a limits notice: %s", r)
	}
	for _, d := range []string{e.Root.Run, e.Root.Data} {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("state dir %s: %v %v, want mode 0700", d, fi.Mode(), err)
		}
	}
	if left := e.FilesOutside("/var/lib/nucleus*", "/run/nucleus*", "/tmp/nucleus-[0-9]*"); len(left) > 0 {
		t.Errorf("the user wrote outside its XDG dirs: %q", left)
	}
}

// TestRootlessRunHostView: from the host, the sandbox's init and workload
// run as the user (not root, not a subordinate id), and killing the run
// takes every process of the sandbox along (there is no cgroup here).
func TestRootlessRunHostView(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)

	cmd := e.Command(nucleusBin, "run", "--", "/bin/sh", "-c", "echo ready; exec /bin/sleep 60")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("first line %q, want ready", line)
	}
	var sleep, init int
	for _, p := range e.Processes() {
		f := strings.Fields(p)
		pid, _ := strconv.Atoi(f[0])
		switch {
		case strings.Contains(p, "nucleus-init"):
			init = pid
		case strings.HasSuffix(p, "/bin/sleep 60"):
			sleep = pid
		}
	}
	if init == 0 {
		t.Fatalf("no init of the run among the user's processes: %q", e.Processes())
	}
	want := strconv.Itoa(u.UID)
	if uid := hostStatus(init, "Uid"); strings.Fields(uid)[0] != want {
		t.Errorf("init %d runs as host uid %q, want %s", init, uid, want)
	}
	if uid := hostStatus(init, "Gid"); strings.Fields(uid)[0] != strconv.Itoa(u.GID) {
		t.Errorf("init %d runs as host gid %q, want %d", init, uid, u.GID)
	}
	// The sleep is not in the environment's list (the sandbox's own
	// environment): find it as the init's child.
	kids, _ := os.ReadFile("/proc/" + strconv.Itoa(init) + "/task/" + strconv.Itoa(init) + "/children")
	for _, k := range strings.Fields(string(kids)) {
		pid, _ := strconv.Atoi(k)
		if c, _ := os.ReadFile("/proc/" + k + "/cmdline"); strings.Contains(string(c), "sleep") {
			sleep = pid
		}
	}
	if sleep == 0 {
		t.Fatalf("no workload under init %d (children %q)", init, kids)
	}
	if uid := hostStatus(sleep, "Uid"); strings.Fields(uid)[0] != want {
		t.Errorf("workload %d runs as host uid %q, want %s", sleep, uid, want)
	}
	if cap := hostStatus(sleep, "CapEff"); cap != "0000000000000000" {
		t.Errorf("workload CapEff %s", cap)
	}

	// SIGKILL of the caller: the init dies with it and takes the sleep.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && (testutil.Alive(init) || testutil.Alive(sleep)) {
		time.Sleep(20 * time.Millisecond)
	}
	if testutil.Alive(init) || testutil.Alive(sleep) {
		t.Errorf("after the run was killed: init alive %v, workload alive %v", testutil.Alive(init), testutil.Alive(sleep))
	}
	// The next run sweeps what the killed one left in the state root.
	if r := e.Run(t, nucleusBin, "run", "--", "/bin/true"); r.Code != 0 {
		t.Errorf("next run: %s", r)
	}
}

// hostStatus is a field of pid's /proc status as the host sees it ("" when
// gone).
func hostStatus(pid int, field string) string {
	v, _ := procstat.StatusField(procstat.StatusPath(pid), field)
	if v == "" {
		return "gone"
	}
	return v
}

// TestRootlessRunLimitsNotice: limits asked for on a host where the user
// gets no cgroup are named once, with the reason, and the run goes on.
func TestRootlessRunLimitsNotice(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	r := e.Run(t, nucleusBin, "run", "--memory", "64m", "--pids", "50", "--", "/bin/true")
	if r.Code != 0 {
		t.Fatalf("run with limits: %s", r)
	}
	const want = "memory, pids limits of "
	if strings.Count(r.Stderr, "not enforced") != 1 || !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr should say once %q...: %s", want, r)
	}
}

// TestRootlessRunNoRange: a user without subordinate ids is told which
// file lacks them and the command that adds them; nothing is started.
func TestRootlessRunNoRange(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserNoRange)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	r := e.Run(t, nucleusBin, "run", "--", "/bin/true")
	if r.Code != 125 {
		t.Errorf("want exit 125: %s", r)
	}
	for _, want := range []string{"/etc/subuid", "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 " + u.Name} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("error lacks %q: %s", want, r)
		}
	}
	if strings.Contains(r.Stderr, "/var/lib/nucleus-idmap") {
		t.Errorf("error names the root-only registry: %s", r)
	}
}

// TestRootlessRunVolumes: a named volume and binds (writable and :ro) of
// the user's own directories work without root; what the sandbox's root
// writes is the user's on the host.
func TestRootlessRunVolumes(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	bind := filepath.Join(e.Home, "bind")
	if err := os.Mkdir(bind, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(bind, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	r := e.Run(t, nucleusBin, "run", "-v", "vol1:/data", "-v", bind+":/b", "-v", bind+":/ro:ro", "--",
		"/bin/sh", "-c", "echo v >/data/f && echo b >/b/g && if echo x >/ro/h; then echo ro-writable; fi; cat /ro/g")
	if r.Code != 0 || strings.Contains(r.Stdout, "ro-writable") || !strings.Contains(r.Stdout, "b\n") {
		t.Fatalf("want exit 0, /ro read-only and showing /b's file: %s", r)
	}
	for _, f := range []string{filepath.Join(bind, "g"), filepath.Join(e.Root.Data, "volumes", "_run", "vol1", "f")} {
		var st unix.Stat_t
		if err := unix.Stat(f, &st); err != nil {
			t.Errorf("%s: %v", f, err)
		} else if int(st.Uid) != u.UID || int(st.Gid) != u.GID {
			t.Errorf("%s owned by %d:%d, want the user %d:%d", f, st.Uid, st.Gid, u.UID, u.GID)
		}
	}
}

// TestRootlessRunUsernsHost: userns: host without root means "keep my
// uid": the sandbox's user namespace maps only the user's uid and gid, to
// themselves, so it needs no subordinate range, `id` inside prints the
// user's own ids, a file the workload writes to a bind mount is the
// user's, and every default isolation holds (no capability left).
func TestRootlessRunUsernsHost(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserNoRange)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	uid, gid := strconv.Itoa(u.UID), strconv.Itoa(u.GID)
	r := e.Run(t, nucleusBin, "run", "--userns", "host", "-v", e.Home+":/out", "--", "/bin/sh", "-c",
		"id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; touch /out/mine; "+statusLines)
	if r.Code != 0 {
		t.Fatalf("want exit 0: %s", r)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	want := []string{uid, gid, uid + " " + uid + " 1", gid + " " + gid + " 1"}
	if len(lines) < 5 || strings.Join(lines[:4], "|") != strings.Join(want, "|") || !strings.HasPrefix(lines[4], "Uid:") {
		t.Errorf("id -u, id -g, maps: %q; want %q and no other mapping", lines, want)
	}
	for _, w := range []string{"CapEff: 0000000000000000", "CapPrm: 0000000000000000", "CapAmb: 0000000000000000", "NoNewPrivs: 1", "Seccomp: 2", "devwrite denied"} {
		if !strings.Contains(strings.Join(lines, "\n"), w) {
			t.Errorf("output lacks %q: %s", w, r)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(e.Home, "mine"), &st); err != nil || int(st.Uid) != u.UID || int(st.Gid) != u.GID {
		t.Errorf("file written inside: %v, owner %d:%d; want the user's %d:%d", err, st.Uid, st.Gid, u.UID, u.GID)
	}
}

// TestRootlessRunWithoutHome: a user whose environment has no HOME (su,
// cron, env -i) and no XDG_DATA_HOME gets the data root under the home of
// the password database, and when that cannot be written (the test user's
// is /nonexistent) an error naming the directory and what to set. The root
// was ".local/share/nucleus" under the current directory: each directory
// the user ran nucleus in got a state root of its own.
func TestRootlessRunWithoutHome(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	pw, err := user.Lookup(u.Name)
	if err != nil {
		t.Fatal(err)
	}
	e.Env = []string{"HOME=", "XDG_DATA_HOME="}
	r := e.Run(t, nucleusBin, "run", "--", "/bin/true")
	want := "state directory " + filepath.Join(pw.HomeDir, ".local/share/nucleus")
	if _, err := os.Stat(pw.HomeDir); err == nil {
		t.Logf("%s's home %s exists: only checking that the state is not in the current directory", u.Name, pw.HomeDir)
	} else if r.Code == 0 || !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, "XDG_DATA_HOME") {
		t.Errorf("run without HOME: want a failure naming %q and XDG_DATA_HOME: %s", want, r)
	}
	if _, err := os.Stat(filepath.Join(e.Home, ".local")); err == nil {
		t.Errorf("run without HOME made .local in its current directory %s", e.Home)
	}
}
