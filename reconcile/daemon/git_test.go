package daemon_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/reconcile/daemon"
)

// TestDaemonStatusGitRevision: a tree inside a git work tree shows the
// commit next to the content digest, for the applied revision and in the
// history; a new commit that changes the project is applied and shown.
// Bookkeeping, not the kernel: it runs over reconciletest's fakes.
func TestDaemonStatusGitRevision(t *testing.T) {
	e := newFakeEnv(t)
	_, err := exec.LookPath("git")
	testutil.Require(t, err == nil, "git")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = e.tree
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	a := "ga" + e.tag
	e.write("a", projectYAML(a, "one", "web"))
	git("add", ".")
	git("commit", "-q", "-m", "a")
	c1 := git("rev-parse", "HEAD")

	e.start()
	e.waitRunning(a, 1)
	// The commit is recorded right after the pass that reads the content.
	e.waitFor("Ready with a commit", func() bool { st := e.status(a); return st.Condition == daemon.Ready && st.Applied.Commit != "" })
	st := e.status(a)
	if st.Applied.Commit != c1 || !strings.HasPrefix(st.Applied.Digest, "sha256:") || st.Current != st.Applied.Digest {
		t.Fatalf("status %+v: want applied commit %s and the current digest", st, c1)
	}

	e.write("a", projectYAML(a, "two", "web"))
	git("commit", "-q", "-am", "two")
	c2 := git("rev-parse", "HEAD")
	git("pack-refs", "--all") // the ref now lives in packed-refs only
	e.waitFor("the second commit applied", func() bool {
		st := e.status(a)
		return st.Condition == daemon.Ready && st.Applied.Commit == c2
	})
	st = e.status(a)
	if len(st.History) < 2 || st.History[0].Commit != c2 || st.History[0].Outcome != "applied" || st.History[len(st.History)-1].Commit != c1 {
		t.Errorf("history %+v: want the apply of %s then of %s", st.History, c2, c1)
	}
	if got := daemon.GitCommit(filepath.Join(e.tree, "a")); got != c2 {
		t.Errorf("GitCommit after pack-refs = %q, want %s", got, c2)
	}
}
