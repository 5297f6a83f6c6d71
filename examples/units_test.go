package examples_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitKeys reads a systemd unit into section.key -> values (keys repeat).
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is neither a section nor key=value", path, line)
			}
			keys[section+"."+k] = append(keys[section+"."+k], v)
		}
	}
	return keys
}

// TestGitopsUnits checks the daemon's system and user units for what
// systemd would not complain about but gets wrong: a user unit wanted by
// multi-user.target (a user manager never reaches it, so `enable` does
// nothing) or naming User= (refused in a user manager), a unit whose stop
// kills the sandboxes (KillMode other than process), a daemon not watching.
func TestGitopsUnits(t *testing.T) {
	for _, c := range []struct {
		file, wantedBy, watch string
		user                  bool
	}{
		{"gitops/nucleus-daemon.service", "multi-user.target", "/srv/nucleus/projects", false},
		{"gitops/nucleus-daemon.user.service", "default.target", "%h/nucleus/projects", true},
	} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			k := unitKeys(t, c.file)
			if got := strings.Join(k["Install.WantedBy"], " "); got != c.wantedBy {
				t.Errorf("%s: [Install] WantedBy=%q, want %q", c.file, got, c.wantedBy)
			}
			if got := strings.Join(k["Service.KillMode"], " "); got != "process" {
				t.Errorf("%s: [Service] KillMode=%q, want process (stopping the daemon leaves the sandboxes running)", c.file, got)
			}
			exec := strings.Join(k["Service.ExecStart"], " ")
			if !strings.Contains(exec, " daemon --watch "+c.watch) {
				t.Errorf("%s: ExecStart=%q, want it to run `nucleus daemon --watch %s`", c.file, exec, c.watch)
			}
			if c.user {
				for _, bad := range []string{"Service.User", "Service.Group", "Unit.After", "Unit.Wants"} {
					if v, ok := k[bad]; ok {
						t.Errorf("%s: %s=%q has no place in a user unit (no system targets or users there)", c.file, bad, v)
					}
				}
			}
			verify(t, c.file, c.user)
		})
	}
}

// verify runs `systemd-analyze verify` on a copy of the unit whose
// ExecStart program is /bin/true (verify insists that it exists), where
// systemd is installed: unknown keys, bad values and sections fail.
func verify(t *testing.T, file string, user bool) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Logf("systemd-analyze not installed: %s checked by this test's own rules only", file)
		return
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "ExecStart="); ok {
			_, args, _ := strings.Cut(rest, " ")
			l = "ExecStart=/bin/true " + args
		}
		out = append(out, l)
	}
	dir := t.TempDir()
	copyPath := filepath.Join(dir, "nucleus-daemon.service")
	if err := os.WriteFile(copyPath, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", copyPath}
	cmd := exec.Command("systemd-analyze", args...)
	if user {
		// A user manager needs a runtime directory; verify needs no
		// running manager.
		rt := filepath.Join(dir, "xdg")
		if err := os.Mkdir(rt, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command("systemd-analyze", append([]string{"--user"}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	}
	o, err := cmd.CombinedOutput()
	// verify exits 0 on some complaints (unknown keys), so read them too.
	if err != nil || strings.Contains(string(o), file) || strings.Contains(string(o), "nucleus-daemon.service:") {
		t.Errorf("systemd-analyze %v on %s (ExecStart program replaced by /bin/true): %v\n%s", cmd.Args[1:], file, err, o)
	}
}
