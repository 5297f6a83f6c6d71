package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"
	"nucleus/image/progress"
	"nucleus/image/store"
	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
)

// digestOf is an image's manifest digest, as the store records it.
func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// imageRows is `nucleus images --json`.
func (c *cli) imageRows() map[string]imageRow {
	c.t.Helper()
	var rows []imageRow
	if err := json.Unmarshal([]byte(c.must("images", "--json")), &rows); err != nil {
		c.t.Fatal(err)
	}
	out := map[string]imageRow{}
	for _, r := range rows {
		out[r.Ref] = r
	}
	return out
}

func TestImagePullListRemovePrune(t *testing.T) {
	c := newCLI(t)
	reg := imagetest.Registry(t)
	app := imagetest.Busybox(t)
	other := imagetest.Busybox(t, []imagebuild.Entry{imagebuild.File("etc/motd", 0o644, "other\n")})
	appRef, otherRef := reg.Push(t, "app:1", app), reg.Push(t, "other:1", other)
	both := "name: " + c.project + `
services:
  web: {image: "` + appRef + `", command: /bin/busybox true}
  side: {image: "` + otherRef + `", command: /bin/busybox true, pull_policy: never}
`
	c.writeYAML(both)

	// pull: plain progress lines on a pipe, every image, never included.
	_, errs, code := c.run("pull")
	if code != 0 {
		t.Fatalf("pull: exit %d\n%s", code, errs)
	}
	if strings.ContainsAny(errs, "\r\x1b") {
		t.Errorf("pull wrote a carriage return or escape sequence into a pipe:\n%q", errs)
	}
	for _, want := range []string{appRef + ": pulling 1 layer", appRef + ": layer 1/1 sha256:", appRef + ": pulled " + digestOf(t, app),
		otherRef + ": pulling 2 layers", otherRef + ": pulled " + digestOf(t, other)} {
		if !strings.Contains(errs, want) {
			t.Errorf("pull's output lacks %q:\n%s", want, errs)
		}
	}

	// images: reference, short digest, size, the project as user.
	table := c.must("images")
	for _, ref := range []string{appRef, otherRef} {
		var line string
		for _, l := range strings.Split(table, "\n") {
			if strings.HasPrefix(l, ref+" ") {
				line = l
			}
		}
		r := c.imageRows()[ref]
		short := progress.Short(r.Digest)
		if line == "" || !strings.Contains(line, short) || strings.Contains(line, r.Digest) || !strings.Contains(line, " "+c.project+" ") || !strings.Contains(line, progress.Bytes(r.Size)) {
			t.Errorf("images: row of %s = %q, want short digest %s, size %s and user %s\n%s", ref, line, short, progress.Bytes(r.Size), c.project, table)
		}
	}
	if ls := c.must("image", "ls"); ls != table {
		t.Errorf("image ls printed %q, images %q", ls, table)
	}
	rows := c.imageRows()
	if r := rows[appRef]; r.Digest != digestOf(t, app) || r.Size <= 0 || len(r.Users) != 1 || r.Users[0] != c.project || r.Pulled.IsZero() {
		t.Errorf("images --json: %+v, want digest %s, a size, users [%s], a pull time", r, digestOf(t, app), c.project)
	}

	// rm refuses an image the project uses; -f removes it.
	_, errs, code = c.run("image", "rm", otherRef)
	if code != 1 || !strings.Contains(errs, "used by project "+c.project) {
		t.Errorf("image rm of a used image: exit %d, stderr %q; want 1 naming the project", code, errs)
	}
	if _, ok := c.imageRows()[otherRef]; !ok {
		t.Fatal("a refused rm removed the image")
	}
	if out := c.must("image", "rm", "-f", otherRef); !strings.Contains(out, "removed "+otherRef) || !strings.Contains(out, "reclaimed ") {
		t.Errorf("image rm -f: %q", out)
	}
	if _, ok := c.imageRows()[otherRef]; ok {
		t.Error("image rm -f left the image listed")
	}

	// Short forms are the canonical reference; prune in a pipe needs -f.
	if _, errs, code := c.run("image", "rm", "nginx:1.27"); code != 1 || !strings.Contains(errs, "image docker.io/library/nginx:1.27: image not in the store") {
		t.Errorf("image rm nginx:1.27: exit %d, %q; want 1 naming docker.io/library/nginx:1.27", code, errs)
	}
	if _, errs, code := c.run("image", "prune"); code != 2 || !strings.Contains(errs, "-f") {
		t.Errorf("image prune without -f, not on a terminal: exit %d, %q; want 2 asking for -f", code, errs)
	}

	// The project stops using other: prune takes it, keeps app.
	c.must("pull")
	c.writeYAML("name: " + c.project + "\nservices:\n  web: {image: \"" + appRef + "\", command: /bin/busybox true}\n")
	c.must("pull")
	out := c.must("image", "prune", "-f")
	if !strings.Contains(out, "removed "+otherRef) || strings.Contains(out, "removed "+appRef) || !strings.Contains(out, "reclaimed ") {
		t.Errorf("prune: %q, want other removed, app kept, space reclaimed", out)
	}
	if rows := c.imageRows(); len(rows) != 1 || rows[appRef].Ref == "" {
		t.Errorf("after prune: %v, want only %s", rows, appRef)
	}

	// A failed pull names the image once, at the service's image key.
	c.writeYAML("name: " + c.project + "\nservices:\n  bad: {image: \"" + reg.Host + "/absent:1\", command: /bin/busybox true}\n")
	_, errs, code = c.run("pull")
	if code != 1 || !strings.Contains(errs, "pull: nucleus.yaml:3:9: services.bad.image: "+reg.Host+"/absent:1: ") || strings.Count(errs, "/absent:1: ") != 2 { // the progress line's "failed", the error
		t.Errorf("pull of an absent image: exit %d, stderr %q; want 1 naming image and service once, at its image key", code, errs)
	}
}

// userImage is appImage (user app, 999; env; workdir) whose cmd is id -u.
func userImage(t *testing.T) v1.Image {
	img := appImage(t, "run")
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.Cmd = []string{"/bin/busybox", "id", "-u"}
	if img, err = mutate.Config(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestRunImageUserEnvWorkdirExitCode(t *testing.T) {
	c := newCLI(t)
	reg := imagetest.Registry(t)
	ref := reg.Push(t, "user:1", userImage(t))

	// The image's cmd, as its user.
	out, errs, code := c.run("run", "--image", ref)
	if code != 0 || out != "999\n" {
		t.Errorf("run --image (image cmd): exit %d, stdout %q, want 0 and 999\n%s", code, out, errs)
	}
	if !strings.Contains(errs, ref+": pulled ") {
		t.Errorf("first run did not show the pull on stderr: %q", errs)
	}
	out, errs, code = c.run("run", "--image", ref, "--", "/bin/busybox", "sh", "-c", `id -u; pwd; echo "$GREETING"; exit 3`)
	if code != 3 || out != "999\n/home/app\nfrom-image\n" {
		t.Errorf("run --image CMD: exit %d, stdout %q; want 3 and the image's user, workdir and env\n%s", code, out, errs)
	}
	if strings.Contains(errs, "pulled") {
		t.Errorf("second run pulled again (pull policy missing): %q", errs)
	}
	// Flags win over the image's config.
	out, _, code = c.run("run", "--image", ref, "--user", "0", "-e", "GREETING=flag", "--workdir", "/", "--", "/bin/busybox", "sh", "-c", `id -u; pwd; echo "$GREETING"`)
	if code != 0 || out != "0\n/\nflag\n" {
		t.Errorf("run --image with --user/-e/--workdir: exit %d, stdout %q", code, out)
	}
	// A writable layer over the tree; --entrypoint replaces the image's.
	out, errs, code = c.run("run", "--image", ref, "--read-only=false", "--user", "0", "--", "/bin/busybox", "sh", "-c", "echo new > /new && cat /new")
	if code != 0 || out != "new\n" {
		t.Errorf("run --image --read-only=false: exit %d, stdout %q\n%s", code, out, errs)
	}
	if _, _, code = c.run("run", "--image", ref, "--", "/bin/busybox", "sh", "-c", "echo x > /new"); code == 0 {
		t.Error("run --image wrote to its read-only root")
	}
	out, _, code = c.run("run", "--image", ref, "--entrypoint", "/bin/busybox echo via-entrypoint")
	if code != 0 || out != "via-entrypoint\n" {
		t.Errorf("run --image --entrypoint: exit %d, stdout %q", code, out)
	}
	leaktest.Check(t, c.rootdir())
	assertNoLeases(t, c)
}

// assertNoLeases checks that no run left a lease on a tree.
func assertNoLeases(t *testing.T, c *cli) {
	t.Helper()
	leases, _ := filepath.Glob(filepath.Join(c.rootdir().Data, "images", "leases", "*", "*"))
	if len(leases) > 0 {
		t.Errorf("leases left after the runs: %v", leases)
	}
}

func TestPruneKeepsTheTreeOfARunningRun(t *testing.T) {
	c := newCLI(t)
	reg := imagetest.Registry(t)
	img := userImage(t)
	ref := reg.Push(t, "keep:1", img)
	cmd, done := c.startRun("--image", ref, "--", "/bin/busybox", "sleep", "30")
	st, err := store.Open(c.rootdir().Data)
	if err != nil {
		t.Fatal(err)
	}
	var tree string
	testutil.WaitFor(t, "the run's lease on its tree", 60*time.Second, func() bool {
		leases, _ := filepath.Glob(filepath.Join(st.Dir, "leases", "*", "*"))
		if len(leases) == 1 {
			tree = filepath.Join(st.Dir, "trees", filepath.Base(filepath.Dir(leases[0])))
		}
		return tree != ""
	})
	// No project uses the image: only the run's lease keeps it.
	out := c.must("image", "prune", "-a", "-f")
	if strings.Contains(out, "removed "+ref) {
		t.Errorf("prune -a removed the image of a running run: %q", out)
	}
	if _, err := os.Stat(filepath.Join(tree, "bin", "busybox")); err != nil {
		t.Errorf("prune -a removed the tree a run uses: %v", err)
	}
	if _, ok := c.imageRows()[ref]; !ok {
		t.Error("prune -a removed the record of the image a run uses")
	}
	if out, errs, code := c.run("run", "--image", ref, "--", "/bin/busybox", "true"); code != 0 || strings.Contains(errs, "pulled") {
		t.Errorf("a second run after the prune: exit %d, %q %q; want 0 with no pull", code, out, errs)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end on SIGTERM")
	}
	assertNoLeases(t, c)
	out = c.must("image", "prune", "-a", "-f")
	if !strings.Contains(out, "removed "+ref) {
		t.Errorf("prune -a after the run: %q, want the image removed", out)
	}
	if _, err := os.Stat(tree); !os.IsNotExist(err) {
		t.Errorf("the tree outlived the run and the prune: %v", err)
	}
	leaktest.Check(t, c.rootdir())
}

// TestPullRestartsOnlyServicesWhoseDigestMoved: with a supervisor running,
// nucleus pull of a tag pushed again asks for a pass that restarts the
// service of that image and leaves the other alone.
func TestPullRestartsOnlyServicesWhoseDigestMoved(t *testing.T) {
	c := newImageCLI(t)
	c.must("up", "-d", "--wait", "--wait-timeout", "60s")
	before := c.ps()
	c.logs("app", "motd=one")

	c.reg.Push(t, "app:1", appImage(t, "two"))
	out, errs, code := c.run("pull")
	if code != 0 {
		t.Fatalf("pull: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "app") || strings.Contains(out, "tool") || strings.Contains(out, "host") {
		t.Errorf("pull's pass: %q, want a step for app only", out)
	}
	c.logs("app", "motd=two")
	after := c.ps()
	if after["app"].PID == before["app"].PID {
		t.Errorf("app kept pid %d although its image changed", before["app"].PID)
	}
	for _, s := range []string{"tool", "host"} {
		if after[s].PID != before[s].PID {
			t.Errorf("%s restarted (pid %d -> %d) although its image did not change", s, before[s].PID, after[s].PID)
		}
	}
	c.must("down", "--timeout", "5s")
	c.assertNoLeaks()
}

// TestPullOnATerminalRedrawsOneLinePerImage: on a terminal, pull redraws a
// line per image in place instead of writing log lines.
func TestPullOnATerminalRedrawsOneLinePerImage(t *testing.T) {
	c := newImageCLI(t)
	cmd := exec.Command(nucleusBin, "--root", c.root, "pull")
	cmd.Dir = c.dir
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f) // EIO once the command has exited
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pull on a terminal: %v\n%q", err, b)
	}
	out := string(b)
	if !strings.Contains(out, "\x1b[2A") || !strings.Contains(out, "\r\x1b[2K") {
		t.Errorf("no in-place redraw of the two image lines: %q", out)
	}
	if strings.Contains(out, "downloaded and verified") {
		t.Errorf("log lines on a terminal: %q", out)
	}
	frames := strings.Split(out, "\x1b[2A")
	last := frames[len(frames)-1]
	for _, ref := range []string{c.appRef, c.toolRef} {
		if !strings.Contains(last, ref+"  pulled sha256:") {
			t.Errorf("last frame lacks %s pulled: %q", ref, last)
		}
	}
}

// TestKilledRunImageLeaseGoesWithTheNextRun: a SIGKILLed run --image
// cannot release its lease; the next run's clean-up does.
func TestKilledRunImageLeaseGoesWithTheNextRun(t *testing.T) {
	c := newCLI(t)
	reg := imagetest.Registry(t)
	ref := reg.Push(t, "killed:1", userImage(t))
	cmd, done := c.startRun("--image", ref, "--", "/bin/busybox", "sleep", "30")
	// Killed once its sandbox runs (the lease, taken before, is written).
	testutil.WaitFor(t, "the run's sandbox record", 60*time.Second, func() bool {
		l, _ := filepath.Glob(filepath.Join(c.rootdir().Run, "sandboxes", "run-*", "record.json"))
		return len(l) == 1
	})
	_ = cmd.Process.Kill()
	<-done
	if _, errs, code := c.run("run", "--", "/bin/busybox", "true"); code != 0 {
		t.Fatalf("the next run: exit %d\n%s", code, errs)
	}
	assertNoLeases(t, c)
	leaktest.Check(t, c.rootdir())
}
