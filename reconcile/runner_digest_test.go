package reconcile_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"nucleus/internal/testutil"
	"nucleus/reconcile"
	"nucleus/reconcile/reconciletest"
	"nucleus/spec"
)

// TestPassDigestIsOfTheParsedBytes: a pass reads the project's files once;
// the digest it records is of the bytes it parsed, even when a file is
// rewritten between the moments a pass used to read it (before and after
// loading): the applied revision never names content that was not applied.
func TestPassDigestIsOfTheParsedBytes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "nucleus.yaml")
	env := filepath.Join(dir, ".env")
	write := func(mode string) {
		t.Helper()
		testutil.WriteFile(t, file, "services:\n  web:\n    command: [\"/bin/true\"]\n    environment:\n      MODE: \"${MODE}\"\n")
		testutil.WriteFile(t, env, "MODE="+mode+"\n")
	}
	write("a")
	// Each load sees the files rewritten just before it reads them, and
	// rewritten again right after: what it parsed exists on disk only
	// while it reads.
	loads := 0
	parsed := map[int]string{}
	load := func() (*spec.Project, error) {
		loads++
		write("parsed")
		p, err := spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: "shop", Environ: map[string]string{}})
		if err == nil {
			parsed[loads] = p.Services["web"].Environment["MODE"]
			write("later")
		}
		return p, err
	}
	write("parsed")
	set, err := reconcile.WatchSet(dir, []string{file, env})
	if err != nil {
		t.Fatal(err)
	}
	want := reconcile.ContentDigest(set) // the content while "parsed" is on disk
	write("a")

	results := make(chan reconcile.PassResult, 4)
	r := &reconcile.Runner{Load: load, Supervisor: newSupervisor(t, reconciletest.NewWorld()),
		OnPass: func(res reconcile.PassResult) { results <- res }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case res := <-results:
		if res.LoadErr != nil || res.ApplyErr != nil {
			t.Fatalf("pass: load %v, apply %v", res.LoadErr, res.ApplyErr)
		}
		if got := parsed[loads]; got != "parsed" {
			t.Fatalf("the pass parsed MODE=%q, want parsed", got)
		}
		if res.Digest != want {
			t.Errorf("the pass recorded digest %s; the bytes it parsed digest to %s", res.Digest, want)
		}
	case err := <-done:
		done <- err
		t.Fatalf("runner ended before a pass: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no pass within 10s")
	}
}

// TestProjectDigestMatchesContentDigest: for files that did not change,
// the digest from the parsed bytes is the digest of the files (the form
// recorded revisions were taken in), including files of the watch set the
// load did not read (a nucleus.yml next to the -f file, a missing .env).
func TestProjectDigestMatchesContentDigest(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "main.yaml")
	for name, body := range map[string]string{
		"main.yaml":   "services:\n  web:\n    command: [\"/bin/true\"]\n    env_file: [web.env]\n",
		"web.env":     "A=1\n",
		"nucleus.yml": "not loaded: [\n",
	} {
		testutil.WriteFile(t, filepath.Join(dir, name), body)
	}
	p, err := spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: "shop", Environ: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Sources[filepath.Join(dir, "web.env")]) != "A=1\n" || len(p.Sources[file]) == 0 {
		t.Fatalf("Sources hold %d files, want main.yaml and web.env as read", len(p.Sources))
	}
	set, err := reconcile.WatchSet(p.Dir, p.WatchFiles)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reconcile.ProjectDigest(p), reconcile.ContentDigest(set); got != want {
		t.Fatalf("ProjectDigest %s, ContentDigest of the same files %s", got, want)
	}
}
