package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/procstat"
	"nucleus/internal/testutil"
	"nucleus/reconcile"
)

func TestScanFindsProjectDirectories(t *testing.T) {
	tree := t.TempDir()
	svc := "services:\n  a:\n    command: [/bin/true]\n"
	testutil.WriteFile(t, filepath.Join(tree, "a/nucleus.yaml"), svc)
	testutil.WriteFile(t, filepath.Join(tree, "b/nucleus.yml"), svc)
	testutil.WriteFile(t, filepath.Join(tree, "team/c/nucleus.yaml"), svc)
	testutil.WriteFile(t, filepath.Join(tree, "a/sub/nucleus.yaml"), svc)       // inside a project: content, not a project
	testutil.WriteFile(t, filepath.Join(tree, ".git/x/nucleus.yaml"), svc)      // hidden
	testutil.WriteFile(t, filepath.Join(tree, "o/nucleus.override.yaml"), svc)  // an override alone is no project
	testutil.WriteFile(t, filepath.Join(tree, "d1/d2/d3/d4/nucleus.yaml"), svc) // deeper than MaxDepth
	testutil.WriteFile(t, filepath.Join(tree, "nucleus.yaml"), svc)             // the tree itself is not a project
	testutil.WriteFile(t, filepath.Join(tree, "e/compose.yaml"), svc)           // a compose file is a project too
	testutil.WriteFile(t, filepath.Join(tree, "f/compose.override.yaml"), svc)  // but not its override alone
	got, err := Scan(tree)
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, d := range got {
		r, _ := filepath.Rel(tree, d)
		rel = append(rel, r)
	}
	if strings.Join(rel, " ") != "a b e team/c" {
		t.Errorf("Scan = %v, want [a b e team/c]", rel)
	}
	if _, err := Scan(filepath.Join(tree, "missing")); err == nil {
		t.Error("Scan of a missing tree: no error (it must not read as an empty tree)")
	}

	// A tree that is a symlink (a deploy swapping "current") is followed.
	link := filepath.Join(t.TempDir(), "current")
	if err := os.Symlink(tree, link); err != nil {
		t.Fatal(err)
	}
	if got, err := Scan(link); err != nil || len(got) != 4 || got[0] != filepath.Join(link, "a") {
		t.Errorf("Scan(symlink) = %v, %v", got, err)
	}
}

func TestResolveName(t *testing.T) {
	tree := t.TempDir()
	env := map[string]string{}
	testutil.WriteFile(t, filepath.Join(tree, "My.App/nucleus.yaml"), "services:\n  a:\n    command: [/bin/true]\n")
	testutil.WriteFile(t, filepath.Join(tree, "named/nucleus.yaml"), "name: Shop\nservices:\n  a:\n    comand: [x]\n")
	testutil.WriteFile(t, filepath.Join(tree, "broken/nucleus.yaml"), "name: [\n")
	testutil.WriteFile(t, filepath.Join(tree, "stack/compose.yaml"), "name: Stack\nservices:\n  a: {image: busybox, read_only: true}\n")
	for dir, want := range map[string]string{"My.App": "myapp", "named": "shop", "broken": "broken", "stack": "stack"} {
		name, err := ResolveName(filepath.Join(tree, dir), env)
		if name != want {
			t.Errorf("ResolveName(%s) = %q, want %q", dir, name, want)
		}
		if (err != nil) != (dir != "My.App" && dir != "stack") {
			t.Errorf("ResolveName(%s) error %v", dir, err)
		}
	}
	// NUCLEUS_PROJECT_NAME of the daemon's environment must not name every project.
	t.Setenv("NUCLEUS_PROJECT_NAME", "everything")
	if name, _ := ResolveName(filepath.Join(tree, "My.App"), Environ()); name != "myapp" {
		t.Errorf("with NUCLEUS_PROJECT_NAME set: %q, want myapp", name)
	}
}

func TestGitCommit(t *testing.T) {
	const c1 = "0123456789abcdef0123456789abcdef01234567"
	const c2 = "89abcdef0123456789abcdef0123456789abcdef"
	repo := t.TempDir()
	sub := filepath.Join(repo, "projects/a")
	testutil.WriteFile(t, filepath.Join(sub, "nucleus.yaml"), "")
	if got := GitCommit(sub); got != "" {
		t.Errorf("outside a work tree: %q", got)
	}
	testutil.WriteFile(t, filepath.Join(repo, ".git/HEAD"), "ref: refs/heads/main\n")
	if got := GitCommit(sub); got != "" {
		t.Errorf("unborn branch: %q", got)
	}
	testutil.WriteFile(t, filepath.Join(repo, ".git/packed-refs"), "# pack-refs with: peeled\n"+c2+" refs/heads/other\n"+c1+" refs/heads/main\n")
	if got := GitCommit(sub); got != c1 {
		t.Errorf("packed ref: %q, want %s", got, c1)
	}
	testutil.WriteFile(t, filepath.Join(repo, ".git/refs/heads/main"), c2+"\n")
	if got := GitCommit(sub); got != c2 {
		t.Errorf("loose ref: %q, want %s", got, c2)
	}
	testutil.WriteFile(t, filepath.Join(repo, ".git/HEAD"), c1+"\n")
	if got := GitCommit(sub); got != c1 {
		t.Errorf("detached HEAD: %q, want %s", got, c1)
	}
	// A linked work tree: .git is a file, refs live in the common dir.
	wt := t.TempDir()
	wtGit := filepath.Join(repo, ".git/worktrees/wt")
	testutil.WriteFile(t, filepath.Join(wt, ".git"), "gitdir: "+wtGit+"\n")
	testutil.WriteFile(t, filepath.Join(wtGit, "HEAD"), "ref: refs/heads/main\n")
	testutil.WriteFile(t, filepath.Join(wtGit, "commondir"), "../..\n")
	if got := GitCommit(wt); got != c2 {
		t.Errorf("linked work tree: %q, want %s", got, c2)
	}
}

func TestCondition(t *testing.T) {
	alive, _ := procstat.StartTime(os.Getpid())
	running := func(name string) *reconcile.SandboxRecord {
		return &reconcile.SandboxRecord{Service: name, Replica: 1, State: reconcile.StateRunning, InitPID: os.Getpid(), InitStart: alive, BootID: reconcile.BootID()}
	}
	applied := &reconcile.ProjectRecord{Name: "p", Digest: "sha256:a", AttemptDigest: "sha256:a"}
	crash := running("db")
	crash.State = reconcile.StateCrashloop
	dead := running("db")
	dead.InitStart = alive + 1
	done := running("job")
	done.State, done.ExitCode = reconcile.StateExited, 0
	waiting := &reconcile.SandboxRecord{Service: "app", Replica: 1, State: reconcile.StateWaiting, Waiting: "db-1 to be healthy (now: backoff, exit code 1)"}
	gaveUp := *waiting
	gaveUp.Permanent = "db-1 exited (exit code 3) and will not be restarted, expected service_healthy"
	managed := &ProjectState{Name: "p"}
	// An intent record: written before the sandbox exists (no init PID).
	creating := &reconcile.SandboxRecord{Service: "web", Replica: 1, State: reconcile.StateStarting, Creating: true}
	tests := []struct {
		name       string
		in         ConditionInput
		cond, why  string
		msgContain string
	}{
		{"applied and running", ConditionInput{Record: applied, Sandboxes: []*reconcile.SandboxRecord{running("web"), done}, Current: "sha256:a"}, Ready, "Applied", "2 replicas"},
		{"duplicate", ConditionInput{Record: applied, Conflict: []string{"/t/a", "/t/b"}}, Stalled, "DuplicateName", "/t/a, /t/b"},
		{"invalid files, last good runs", ConditionInput{Record: applied, Daemon: &ProjectState{LoadError: "f.yaml:3:5: bad"}}, Stalled, "InvalidFiles", "f.yaml:3:5: bad (the last good configuration keeps running)"},
		{"invalid files, nothing ran", ConditionInput{Record: &reconcile.ProjectRecord{Name: "p", LastError: "x"}, Daemon: &ProjectState{LoadError: "f.yaml:1:1: bad"}}, Stalled, "InvalidFiles", "nothing runs"},
		{"apply failed", ConditionInput{Record: &reconcile.ProjectRecord{Name: "p", Digest: "sha256:a", LastError: "start web: boom"}}, Degraded, "ApplyFailed", "boom"},
		{"crashloop", ConditionInput{Record: applied, Sandboxes: []*reconcile.SandboxRecord{running("web"), crash}}, Degraded, "ReplicasNotRunning", "db-1 crashloop"},
		{"waiting for a dependency", ConditionInput{Record: applied, Sandboxes: []*reconcile.SandboxRecord{waiting, running("db")}}, Progressing, "Starting", "app-1 waiting for db-1 to be healthy"},
		{"dependency gave up", ConditionInput{Record: applied, Sandboxes: []*reconcile.SandboxRecord{&gaveUp}}, Degraded, "ReplicasNotRunning", "app-1 will not start: dependency db-1 exited (exit code 3)"},
		{"being created", ConditionInput{Record: applied, Sandboxes: []*reconcile.SandboxRecord{creating}, Supervised: true}, Progressing, "Starting", "web-1 being created"},
		{"abandoned while being created", ConditionInput{Record: applied, Sandboxes: []*reconcile.SandboxRecord{creating}}, Degraded, "ReplicasNotRunning", "web-1 dead"},
		{"died unseen", ConditionInput{Record: applied, Sandboxes: []*reconcile.SandboxRecord{dead}}, Degraded, "ReplicasNotRunning", "db-1 dead"},
		{"files changed", ConditionInput{Record: applied, Current: "sha256:b", Daemon: managed, DaemonRunning: true}, Progressing, "FilesChanged", ""},
		{"files changed, daemon stopped", ConditionInput{Record: applied, Current: "sha256:b", Daemon: managed}, Progressing, "DaemonStopped", ""},
		{"first apply", ConditionInput{Daemon: managed, DaemonRunning: true}, Progressing, "FirstApply", ""},
		{"first apply writing records", ConditionInput{Record: &reconcile.ProjectRecord{Name: "p"}, Daemon: managed, DaemonRunning: true}, Progressing, "FirstApply", ""},
	}
	for _, tc := range tests {
		cond, why, msg := Condition(tc.in)
		if cond != tc.cond || why != tc.why || !strings.Contains(msg, tc.msgContain) {
			t.Errorf("%s: got %s/%s %q, want %s/%s containing %q", tc.name, cond, why, msg, tc.cond, tc.why, tc.msgContain)
		}
	}
}

func TestUnder(t *testing.T) {
	for _, tc := range []struct {
		tree, dir string
		want      bool
	}{
		{"/srv/p", "/srv/p/a", true}, {"/srv/p", "/srv/p/team/a", true}, {"/srv/p", "/srv/p", false},
		{"/srv/p", "/srv/projects/a", false}, {"/srv/p", "/srv/a", false},
	} {
		if got := under(tc.tree, tc.dir); got != tc.want {
			t.Errorf("under(%s, %s) = %v", tc.tree, tc.dir, got)
		}
	}
}
