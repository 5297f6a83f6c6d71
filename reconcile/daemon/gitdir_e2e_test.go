package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile/daemon"
)

// TestDaemonRefusesGitDirTakeover: under the daemon's default policy a
// repository author cannot hand the checkout's git repository to the
// sandbox. An edit mounting the project's .git writable with :U (the
// finding: .git chowned to the project's ids, a hook and core.fsmonitor
// planted for the host's next git pull as root) does not load
// (InvalidFiles, naming the volume); with allow_config_write it is refused
// by the policy, and :U on any bind source is refused without
// --allow-privileged (PolicyDenied); a submodule's .git file (a gitdir:
// pointer) cannot be mounted writable either. The running replica keeps
// its PID and .git keeps its owner throughout.
func TestDaemonRefusesGitDirTakeover(t *testing.T) {
	e := newEnv(t)
	name := "gd" + e.tag
	base := projectYAML(name, "one", "web")
	proj := filepath.Join(e.tree, "p")
	gitDir := filepath.Join(proj, ".git")
	for _, f := range []string{"HEAD", "config", "hooks/.keep"} {
		testutil.WriteFile(t, filepath.Join(gitDir, f), "")
	}
	e.write("p", base)
	e.start()
	pids := e.waitRunning(name, 1)
	e.waitReady(name)

	watched := []string{gitDir, filepath.Join(gitDir, "config"), filepath.Join(gitDir, "hooks")}
	owned := func() {
		t.Helper()
		for _, p := range watched {
			var st syscall.Stat_t
			if err := syscall.Lstat(p, &st); err != nil {
				t.Fatal(err)
			}
			if st.Uid != 0 || st.Gid != 0 {
				t.Errorf("%s is owned by %d:%d now, want root", p, st.Uid, st.Gid)
			}
		}
	}
	// refused waits until the daemon decided on the edit: refused with
	// reason, or applied (the replica restarted).
	refused := func(reason, want string) {
		t.Helper()
		e.waitFor("the edit refused or applied", func() bool {
			st := e.status(name)
			return (st.Condition == daemon.Stalled && st.Reason == reason && strings.Contains(st.Message, want)) || !samePIDs(e.pids(name), pids)
		})
		st := e.status(name)
		if st.Condition != daemon.Stalled || st.Reason != reason {
			time.Sleep(time.Second) // let the applied edit start, to see what it did to .git
			owned()
			t.Fatalf("the edit was not refused (%s %s, pids %v -> %v): %q", st.Condition, st.Reason, pids, e.pids(name), st.Message)
		}
		if !strings.Contains(st.Message, want) {
			t.Errorf("refusal does not say %q: %q", want, st.Message)
		}
		if got := e.pids(name); !samePIDs(got, pids) {
			t.Errorf("a refused edit disturbed the running project: %v -> %v", pids, got)
		}
		owned()
	}

	e.write("p", base+"    volumes: [\"./.git:/g:U\"]\n")
	refused("InvalidFiles", "nucleus.yaml:8:15: services.web.volumes[0]: writable bind mount \"./.git:/g:U\" is .git of the git repository that delivers the project")

	e.write("p", base+"    volumes: [\"./.git/hooks:/h\"]\n")
	refused("InvalidFiles", "writable bind mount \"./.git/hooks:/h\" lies inside .git of the git repository")

	e.write("p", base+"    volumes: [{type: bind, source: ./.git, target: /g, chown: true, allow_config_write: true}]\n")
	refused("PolicyDenied", "nucleus.yaml:8:15: services.web.volumes: allow_config_write on bind source "+gitDir)
	if msg := e.status(name).Message; !strings.Contains(msg, "chown (:U) of bind source "+gitDir) || !strings.Contains(msg, "--allow-privileged") {
		t.Errorf("policy refusal does not name the chown: %q", msg)
	}

	e.write("p", base+"    volumes: [\"./data:/data:U\"]\n")
	refused("PolicyDenied", "nucleus.yaml:8:15: services.web.volumes: chown (:U) of bind source "+filepath.Join(proj, "data")+" hands a host path the repository chooses to the project's ids at every start (allow with nucleus daemon --allow-privileged)")

	// A submodule: its .git is a file pointing into the superproject's.
	if err := os.RemoveAll(gitDir); err != nil {
		t.Fatal(err)
	}
	modules := filepath.Join(e.tree, ".git", "modules", "p")
	if err := os.MkdirAll(filepath.Join(modules, "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, gitDir, "gitdir: ../.git/modules/p\n")
	watched = []string{gitDir, modules, filepath.Join(modules, "hooks")}
	e.write("p", base+"    volumes: [\"./.git:/gitlink\"]\n")
	refused("InvalidFiles", "writable bind mount \"./.git:/gitlink\" is .git of the git repository that delivers the project")
}
