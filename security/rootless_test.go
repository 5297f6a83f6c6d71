package security

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// Cross-user isolation of rootless mode (issue 14): an ordinary user's
// commands reach neither another user's sandboxes nor root's, whatever
// state root they point at, and root keeps managing its own.

// sleeper is a one-service project without a network (so it needs no
// userspace network backend) whose replica sleeps.
func sleeper(t *testing.T, dir, name string, uid, gid int) string {
	t.Helper()
	f := filepath.Join(dir, name, "nucleus.yaml")
	testutil.WriteFile(t, f, "name: "+name+`
services:
  s:
    command: ["/bin/busybox", "sleep", "600"]
    networks: []
`)
	for _, p := range []string{filepath.Dir(f), f} {
		if err := os.Lchown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// pids is the host PIDs `ps -q` prints, sorted.
func pids(out string) []string {
	f := strings.Fields(out)
	slices.Sort(f)
	return f
}

// worldDir is a fresh directory every user may traverse and list, as /run
// and /var/lib are: a state root inside it is protected by nothing but the
// modes nucleus gives it.
func worldDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "nucleus-sec-world-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// readableBy lists what of paths the user can list (directories) or read
// (files) through ordinary file access, one process for all.
func readableBy(t *testing.T, u *testutil.UserEnv, paths []string) []string {
	t.Helper()
	script := `for p; do if [ -d "$p" ]; then ls "$p" >/dev/null 2>&1 && echo "list $p"; else head -c1 "$p" >/dev/null 2>&1 && echo "read $p"; fi; done; true`
	r := u.Run(t, "/bin/busybox", append([]string{"sh", "-c", script, "sh"}, paths...)...)
	if r.Code != 0 {
		t.Fatalf("probe of %d paths as %s: %s", len(paths), u.User.Name, r)
	}
	var out []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// stateEntries lists every file and directory of a state root, the root's
// own parent aside.
func stateEntries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && (d.IsDir() || d.Type().IsRegular()) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// refused runs, as u, every command that could show or change project
// (defined in file), with pre before it: each must fail and print nothing
// of the project. how says what pre does, for the message.
func refused(t *testing.T, u *testutil.UserEnv, how string, pre []string, project, file string) {
	t.Helper()
	for _, args := range [][]string{
		{"ls"},
		{"-p", project, "ps"},
		{"-p", project, "logs"},
		{"-f", file, "exec", "s", "--", "/bin/busybox", "true"},
		{"-f", file, "stop", "s"},
		{"-p", project, "down"},
	} {
		r := u.Run(t, nucleusBin, append(slices.Clone(pre), args...)...)
		if r.Code == 0 || strings.Contains(r.Stdout, project) {
			t.Errorf("%s (%s): nucleus %s: want a failure that shows nothing of %s, got %s", u.User.Name, how, strings.Join(args, " "), project, r)
		}
	}
}

// TestRootStateHiddenFromRootlessUsers: an ordinary user can neither read
// root's state nor list, inspect, stop, exec into or take down root's
// projects, even pointed at root's state root with --root; its own
// commands do not list them; root still manages its own.
func TestRootStateHiddenFromRootlessUsers(t *testing.T) {
	a := testutil.NewUserEnv(t, testutil.RootlessUser(t, testutil.UserA))
	// --root R puts state in R/run and R/data, as /run/nucleus and
	// /var/lib/nucleus sit in /run and /var/lib.
	re := newEnvAt(t, worldDir(t))
	proj := "secroot" + testutil.RandHex(3)
	file := sleeper(t, worldDir(t), proj, 0, 0)
	t.Cleanup(func() { re.nucleus(nil, "-f", file, "down") })
	if r := re.nucleus(nil, "-f", file, "up", "-d", "--wait"); r.code != 0 {
		t.Fatalf("root: up: exit %d\n%s%s", r.code, r.out, r.err)
	}
	before := pids(re.nucleus(nil, "-f", file, "ps", "-q").out)
	if len(before) != 1 {
		t.Fatalf("root: ps -q: want one PID, got %q", before)
	}

	if got := readableBy(t, a, stateEntries(t, re.dir)); len(got) > 0 {
		t.Errorf("%s can read root's state (state root %s): %s", a.User.Name, re.dir, strings.Join(got, ", "))
	}
	// Pointed at root's state root, every command fails and changes
	// nothing; in its own root, root's project is unknown.
	refused(t, a, "--root "+re.dir, []string{"--root", re.dir}, proj, file)
	if r := a.Run(t, nucleusBin, "ls"); strings.Contains(r.Stdout+r.Stderr, proj) {
		t.Errorf("%s: nucleus ls (its own root) names root's project %s:\n%s", a.User.Name, proj, r)
	}
	if after := pids(re.nucleus(nil, "-f", file, "ps", "-q").out); !slices.Equal(before, after) {
		t.Errorf("root's replica changed after %s's attempts: PIDs %q, then %q", a.User.Name, before, after)
	}

	// Root manages its own as before.
	if r := re.nucleus(nil, "-f", file, "exec", "s", "--", "/bin/busybox", "echo", "ok"); r.code != 0 || strings.TrimSpace(r.out) != "ok" {
		t.Errorf("root: exec: want ok, got exit %d %q %q", r.code, r.out, r.err)
	}
	if r := re.nucleus(nil, "-f", file, "down"); r.code != 0 {
		t.Errorf("root: down: exit %d\n%s%s", r.code, r.out, r.err)
	}
}

// TestRootlessCrossUser: user A cannot see, inspect, stop, exec into or
// take down user B's sandboxes, even pointed at B's state with B's XDG
// dirs, nor signal B's processes; B's project does not show in A's
// commands and B's own commands do not list root's projects.
func TestRootlessCrossUser(t *testing.T) {
	ub := testutil.RootlessUser(t, testutil.UserB)
	a := testutil.NewUserEnv(t, testutil.RootlessUser(t, testutil.UserA))
	b := testutil.NewUserEnv(t, ub)
	proj := "secb" + testutil.RandHex(3)
	file := sleeper(t, b.Home, proj, ub.UID, ub.GID)
	t.Cleanup(func() { b.Run(t, nucleusBin, "-f", file, "down") })
	if r := b.Run(t, nucleusBin, "-f", file, "up", "-d", "--wait"); r.Code != 0 {
		t.Fatalf("%s: up: %s", ub.Name, r)
	}
	before := pids(b.Run(t, nucleusBin, "-f", file, "ps", "-q").Stdout)
	if len(before) != 1 {
		t.Fatalf("%s: ps -q: want one PID, got %q", ub.Name, before)
	}

	if got := readableBy(t, a, append(stateEntries(t, b.Runtime), stateEntries(t, b.Data)...)); len(got) > 0 {
		t.Errorf("%s can read %s's state: %s", a.User.Name, ub.Name, strings.Join(got, ", "))
	}
	// A with B's XDG dirs (later entries of the environment win): every
	// command fails.
	a.Env = []string{"XDG_RUNTIME_DIR=" + b.Runtime, "XDG_DATA_HOME=" + b.Data}
	refused(t, a, "with "+ub.Name+"'s XDG dirs", nil, proj, file)
	a.Env = nil
	if r := a.Run(t, nucleusBin, "ls"); strings.Contains(r.Stdout+r.Stderr, proj) {
		t.Errorf("%s: nucleus ls names %s's project %s:\n%s", a.User.Name, ub.Name, proj, r)
	}
	// Signals: B's sandbox runs in B's user namespace, which A does not own.
	if r := a.Run(t, "/bin/busybox", "kill", "-9", before[0]); r.Code == 0 {
		t.Errorf("%s killed %s's sandbox init (PID %s): %s", a.User.Name, ub.Name, before[0], r)
	}
	if after := pids(b.Run(t, nucleusBin, "-f", file, "ps", "-q").Stdout); !slices.Equal(before, after) {
		t.Errorf("%s's replica changed after %s's attempts: PIDs %q, then %q", ub.Name, a.User.Name, before, after)
	}
	if r := b.Run(t, nucleusBin, "-f", file, "down"); r.Code != 0 {
		t.Errorf("%s: down: %s", ub.Name, r)
	}
	if left := b.FilesOutside("/run/nucleus*", "/var/lib/nucleus*", "/tmp/nucleus-*"); len(left) > 0 {
		t.Errorf("%s wrote outside its XDG dirs: %s", ub.Name, strings.Join(left, ", "))
	}
}

// TestRootlessSandboxDefaults: a rootless sandbox keeps every default
// seen from inside: no capabilities (in its own user namespace either),
// no_new_privs, a seccomp filter, and Landlock (a copy of busybox written
// to /tmp does not run; with --landlock off it does, so Landlock is what
// refuses it).
func TestRootlessSandboxDefaults(t *testing.T) {
	a := testutil.NewUserEnv(t, testutil.RootlessUser(t, testutil.UserA))
	r := a.Run(t, nucleusBin, "run", "--", "/bin/busybox", "cat", "/proc/self/status")
	if r.Code != 0 {
		t.Fatalf("run cat /proc/self/status: %s", r)
	}
	want := map[string]string{"CapInh": "0000000000000000", "CapPrm": "0000000000000000",
		"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "CapAmb": "0000000000000000",
		"NoNewPrivs": "1", "Seccomp": "2"}
	for _, l := range strings.Split(r.Stdout, "\n") {
		k, v, _ := strings.Cut(l, ":")
		if w, ok := want[k]; ok {
			if v = strings.TrimSpace(v); v != w {
				t.Errorf("inside a rootless sandbox: %s %s, want %s", k, v, w)
			}
			delete(want, k)
		}
	}
	if len(want) > 0 {
		t.Errorf("/proc/self/status lacks %v:\n%s", want, r.Stdout)
	}
	script := "/bin/busybox cp /bin/busybox /tmp/true && /tmp/true"
	if r := a.Run(t, nucleusBin, "run", "--", "/bin/busybox", "sh", "-c", script); r.Code == 0 || !strings.Contains(r.Stderr+r.Stdout, "ermission denied") {
		t.Errorf("a program written to /tmp ran in a rootless sandbox (Landlock default): %s", r)
	}
	if r := a.Run(t, nucleusBin, "run", "--landlock", "off", "--", "/bin/busybox", "sh", "-c", script); r.Code != 0 {
		t.Errorf("with --landlock off the copy should run (else the check above proves nothing): %s", r)
	}
}
