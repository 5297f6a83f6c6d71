package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"
	"nucleus/image/pull"
	"nucleus/image/ref"
	"nucleus/image/store"
	"nucleus/internal/testutil"
	"nucleus/spec"
)

// imageYAML has two image services (app runs as the image's user 999)
// and one service on the host view.
const imageYAML = `name: NAME
services:
  app:
    image: APP_REF
    command: ["sh", "-c", "echo uid=$(id -u) own=$(stat -c %u own) pwd=$(pwd) greeting=$$GREETING gone=$(test -e /etc/gone && echo present || echo hidden) motd=$(cat /etc/motd); trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    stop_grace_period: 1s
  tool:
    image: TOOL_REF
    read_only: false
    command: ["sh", "-c", "echo written > /written; echo tool $(cat /etc/version) $(cat /written); trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    stop_grace_period: 1s
  host:
    command: ["/bin/busybox", "sh", "-c", "trap 'exit 0' TERM; while true; do /bin/busybox sleep 0.2; done"]
    stop_grace_period: 1s
`

// appImage is busybox run as app (999) with an env and a workdir; a file
// of a lower layer is whited out by an upper one.
func appImage(t *testing.T, motd string) v1.Image {
	s := imagetest.BusyboxSpec(t)
	s.Config.User = "app"
	s.Config.WorkingDir = "/home/app"
	s.Config.Env = []string{"PATH=/bin", "GREETING=from-image"}
	s.Layers = append(s.Layers,
		[]imagebuild.Entry{
			imagebuild.File("etc/gone", 0o644, "lower layer\n"),
			imagebuild.File("home/app/own", 0o600, "mine\n").Owner(imagebuild.AppUID, imagebuild.AppUID),
		},
		[]imagebuild.Entry{imagebuild.Whiteout("etc/gone"), imagebuild.File("etc/motd", 0o644, motd+"\n")},
	)
	return imagetest.Build(t, s)
}

func toolImage(t *testing.T, version string) v1.Image {
	s := imagetest.BusyboxSpec(t)
	s.Config.Env = []string{"PATH=/bin"}
	s.Layers = append(s.Layers, []imagebuild.Entry{imagebuild.File("etc/version", 0o644, version+"\n")})
	return imagetest.Build(t, s)
}

type imageCLI struct {
	*cli
	reg             *imagetest.Reg
	appRef, toolRef string
}

func newImageCLI(t *testing.T) *imageCLI {
	c := &imageCLI{cli: newCLI(t), reg: imagetest.Registry(t)}
	c.appRef = c.reg.Push(t, "app:1", appImage(t, "one"))
	c.toolRef = c.reg.Push(t, "tool:1", toolImage(t, "1"))
	c.writeImageYAML(c.appRef, "")
	return c
}

// writeImageYAML saves imageYAML; extra is appended to the app service.
func (c *imageCLI) writeImageYAML(appRef, extra string) {
	c.t.Helper()
	y := strings.NewReplacer("NAME", c.project, "APP_REF", appRef, "TOOL_REF", c.toolRef).Replace(imageYAML)
	if extra != "" {
		y = strings.Replace(y, "  tool:\n", extra+"  tool:\n", 1)
	}
	c.writeYAML(y)
}

func (c *imageCLI) logs(service, want string) {
	c.t.Helper()
	testutil.WaitFor(c.t, service+" logs "+want, 10*time.Second, func() bool {
		out, _, _ := c.run("logs", service)
		return strings.Contains(out, want)
	})
}

// TestCLIImageServices: up --wait pulls and runs two image services next
// to a host-view service, with the image's user, env, workdir and layers;
// down leaves no sandbox, lease, writable layer, use or host object.
func TestCLIImageServices(t *testing.T) {
	c := newImageCLI(t)
	// Before up: config prints the file's model (no digest), plan says
	// what up will pull; neither pulls nor creates a store.
	if out := c.must("config"); !strings.Contains(out, "image: "+c.canon(c.appRef)) || strings.Contains(out, "image_digest") {
		t.Errorf("config before any pull:\n%s", out)
	}
	out, _, code := c.run("plan")
	for _, want := range []string{"pull " + c.canon(c.appRef) + " (app)\n", "pull " + c.canon(c.toolRef) + " (tool)\n", "start app"} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("plan before any pull: exit %d, want 1 and the line %q:\n%s", code, want, out)
		}
	}
	if n := c.reg.Requests("GET", "/v2/app/manifests/1") + c.reg.Requests("HEAD", "/v2/app/manifests/1"); n != 0 {
		t.Errorf("config and plan asked the registry for the manifest %d times", n)
	}
	if _, err := os.Stat(filepath.Join(c.rootdir().Data, "images")); !os.IsNotExist(err) {
		t.Errorf("config and plan created the image store (%v)", err)
	}

	c.must("up", "-d", "--wait", "--wait-timeout", "60s")
	ps := c.ps()
	for _, s := range []string{"app", "tool", "host"} {
		if ps[s].State != "running" || !testutil.Alive(ps[s].PID) {
			t.Fatalf("%s after up --wait: %+v", s, ps[s])
		}
	}
	c.logs("app", "app | uid=999 own=999 pwd=/home/app greeting=from-image gone=hidden motd=one")
	c.logs("tool", "tool | tool 1 written")
	if _, err := os.Stat(filepath.Join(c.rootdir().Data, "projects", c.project, "upper", "tool-1", "upper", "written")); err != nil {
		t.Errorf("tool's write is not in its writable layer: %v", err)
	}

	data := c.rootdir().Data
	leases, _ := filepath.Glob(filepath.Join(data, "images", "leases", "*", "*"))
	if len(leases) != 2 {
		t.Errorf("%d leases while two image replicas run, want 2: %v", len(leases), leases)
	}
	uses, _ := filepath.Glob(filepath.Join(data, "images", "uses", "*"))
	if len(uses) != 1 {
		t.Errorf("uses %v, want the project's record", uses)
	}

	// ps shows the digest each image replica runs.
	rows := c.imageRows()
	if rows["app"].Image != c.canon(c.appRef) || !strings.HasPrefix(rows["app"].ImageDigest, "sha256:") || rows["host"].Image != "" {
		t.Errorf("ps --json images: %+v", rows)
	}
	if out := c.must("ps"); !strings.Contains(out, "IMAGE") || !strings.Contains(out, rows["app"].ImageDigest[:19]) {
		t.Errorf("ps table without the short digest %s:\n%s", rows["app"].ImageDigest[:19], out)
	}
	if out, _, code := c.run("plan"); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("plan after up: exit %d\n%s", code, out)
	}

	// A supervisor killed, the leases lost meanwhile: the next supervisor
	// adopts the replicas (same PIDs) and leases their trees again.
	before := c.ps()
	if err := syscall.Kill(c.supervisorPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "supervisor gone", 5*time.Second, func() bool { return c.supervisorPID() == 0 })
	for _, l := range leases {
		if err := os.Remove(l); err != nil {
			t.Fatal(err)
		}
	}
	c.must("up", "-d", "--wait", "--wait-timeout", "60s")
	if after := c.ps(); after["app"].PID != before["app"].PID || after["tool"].PID != before["tool"].PID {
		t.Errorf("replicas not adopted: %+v, were %+v", after, before)
	}
	if again, _ := filepath.Glob(filepath.Join(data, "images", "leases", "*", "*")); len(again) != 2 {
		t.Errorf("leases after adoption: %v, want 2", again)
	}

	// A new image under the same tag, pulled into the store: plan names the
	// digests, a reload restarts app and nothing else.
	before = c.ps()
	c.reg.Push(t, "app:1", appImage(t, "two"))
	img := c.pullIntoStore(c.appRef)
	out, _, code = c.run("plan")
	want := fmt.Sprintf("restart app: image %s %s -> %s", c.canon(c.appRef), spec.ShortDigest(rows["app"].ImageDigest), spec.ShortDigest(img.Manifest))
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("plan after the pull: exit %d\n%s\nwant the line %q", code, out, want)
	}
	c.reload()
	testutil.WaitFor(t, "app restarted on the new digest", 20*time.Second, func() bool {
		r := c.imageRows()["app"]
		return r.ImageDigest == img.Manifest && r.State == "running" && r.PID != before["app"].PID
	})
	c.logs("app", "motd=two")
	after := c.ps()
	for _, s := range []string{"tool", "host"} {
		if after[s].PID != before[s].PID {
			t.Errorf("%s restarted (pid %d -> %d) though its image did not change", s, before[s].PID, after[s].PID)
		}
	}

	// nucleus pull of a tag moved again: the running supervisor applies it
	// and restarts app only (tool is pulled too, to the same digest).
	c.reg.Push(t, "app:1", appImage(t, "two-b"))
	before = after
	c.must("pull")
	c.logs("app", "motd=two-b")
	after = c.ps()
	for _, s := range []string{"tool", "host"} {
		if after[s].PID != before[s].PID {
			t.Errorf("%s restarted by nucleus pull (pid %d -> %d) though its image did not change", s, before[s].PID, after[s].PID)
		}
	}

	// Hot reload: the file names a new tag; the supervisor pulls it
	// (pull_policy missing) and restarts app.
	ref2 := c.reg.Push(t, "app:2", appImage(t, "three"))
	before = after
	c.writeImageYAML(ref2, "")
	testutil.WaitFor(t, "app on app:2", 30*time.Second, func() bool {
		r := c.imageRows()["app"]
		return r.Image == c.canon(ref2) && r.State == "running" && r.PID != before["app"].PID
	})
	c.logs("app", "motd=three")

	// pull_policy: never on a tag the store lacks: the load fails with the
	// resolver's message and the last good configuration keeps running.
	ref3 := c.reg.Push(t, "app:3", appImage(t, "four"))
	running := c.ps()["app"].PID
	c.writeImageYAML(ref3, "    pull_policy: never\n")
	testutil.WaitFor(t, "the load error in ps", 10*time.Second, func() bool {
		_, errs, _ := c.run("ps")
		return strings.Contains(errs, "pull_policy is never")
	})
	if r := c.imageRows()["app"]; r.PID != running || r.Image != c.canon(ref2) {
		t.Errorf("app after a load that failed: %+v, want pid %d on %s", r, running, ref2)
	}

	c.must("down", "--timeout", "5s")
	c.assertNoLeaks()
	c.assertNoImageState()
}

type psImageRow struct {
	State       string `json:"state"`
	PID         int    `json:"pid"`
	Image       string `json:"image"`
	ImageDigest string `json:"image_digest"`
}

func (c *imageCLI) imageRows() map[string]psImageRow {
	c.t.Helper()
	var rows []struct {
		Service string `json:"service"`
		psImageRow
	}
	out := c.must("ps", "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		c.t.Fatalf("ps --json: %v\n%s", err, out)
	}
	m := map[string]psImageRow{}
	for _, r := range rows {
		m[r.Service] = r.psImageRow
	}
	return m
}

func (c *imageCLI) canon(s string) string {
	c.t.Helper()
	n, err := ref.Normalize(s)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

// pullIntoStore pulls s into the project's store, as `nucleus pull` does.
func (c *imageCLI) pullIntoStore(s string) *store.Image {
	c.t.Helper()
	st, err := store.Open(c.rootdir().Data)
	if err != nil {
		c.t.Fatal(err)
	}
	r, err := ref.Parse(s, c.dir)
	if err != nil {
		c.t.Fatal(err)
	}
	img, err := pull.Pull(context.Background(), st, r, pull.Options{Unpack: true})
	if err != nil {
		c.t.Fatal(err)
	}
	return img
}

// reload asks the supervisor for a pass (SIGHUP, as nucleus pull does
// through the API).
func (c *imageCLI) reload() {
	c.t.Helper()
	if err := syscall.Kill(c.supervisorPID(), syscall.SIGHUP); err != nil {
		c.t.Fatal(err)
	}
}

// assertNoImageState checks that down left no lease, use or writable layer
// (the store's images themselves stay).
func (c *imageCLI) assertNoImageState() {
	c.t.Helper()
	data := c.rootdir().Data
	for _, pat := range []string{"images/leases/*/*", "images/uses/*", "projects/" + c.project} {
		if left, _ := filepath.Glob(filepath.Join(data, pat)); len(left) > 0 {
			c.t.Errorf("left after down: %v", left)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "images", "refs")); err != nil {
		c.t.Errorf("the store's images went with down: %v", err)
	}
}

// An image up may not pull (pull_policy: never, not in the store) fails
// up with the image and service named, and nothing starts.
func TestCLIImageNeverMissing(t *testing.T) {
	c := newImageCLI(t)
	c.writeImageYAML(c.appRef, "    pull_policy: never\n")
	out, errs, code := c.run("up", "-d", "--wait", "--wait-timeout", "30s")
	if code == 0 || !strings.Contains(errs, c.canon(c.appRef)) || !strings.Contains(errs, "app") || !strings.Contains(errs, "never") {
		t.Errorf("up with a never image not pulled: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("up said:\n%s", errs)
	c.assertNothingStarted()
}

// A blob that does not match its digest fails up, naming the image, and
// nothing starts (not even the services whose images were fine).
func TestCLIImageTamperedBlob(t *testing.T) {
	c := newImageCLI(t)
	layers, err := toolImage(t, "1").Layers()
	if err != nil {
		t.Fatal(err)
	}
	h, err := layers[len(layers)-1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	c.reg.Tamper(h, true)
	out, errs, code := c.run("up", "-d", "--wait", "--wait-timeout", "30s")
	if code == 0 || !strings.Contains(errs, c.canon(c.toolRef)) || !strings.Contains(errs, "tool") {
		t.Errorf("up with a tampered blob: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("up said:\n%s", errs)
	c.assertNothingStarted()
}

// assertNothingStarted checks that no supervisor, replica or record exists.
func (c *imageCLI) assertNothingStarted() {
	c.t.Helper()
	if pid := c.supervisorPID(); pid != 0 {
		c.t.Errorf("a supervisor (pid %d) was started", pid)
	}
	if rows := c.psRows("-a"); len(rows) > 0 {
		c.t.Errorf("replicas after a failed up: %+v", rows)
	}
	c.assertNoLeaks()
}

// pull_policy: always pulls at every up, and not on the supervisor's
// passes (a crashing replica's restarts, a reload).
func TestCLIImageAlwaysPullsAtUpOnly(t *testing.T) {
	c := newImageCLI(t)
	c.writeYAML(strings.NewReplacer("NAME", c.project, "REF", c.appRef).Replace(`name: NAME
services:
  app:
    image: REF
    pull_policy: always
    command: ["sh", "-c", "echo started; sleep 0.3; exit 1"]
    restart: always
`))
	manifests := func() int {
		return c.reg.Requests("GET", "/v2/app/manifests/1") + c.reg.Requests("HEAD", "/v2/app/manifests/1")
	}
	c.must("up", "-d")
	first := manifests()
	if first == 0 {
		t.Fatal("up did not ask the registry for the manifest of an always image")
	}
	testutil.WaitFor(t, "app restarted twice", 20*time.Second, func() bool {
		rows := c.psRows("-a")
		return len(rows) == 1 && rows[0].Restarts >= 2
	})
	c.reload()
	time.Sleep(500 * time.Millisecond)
	if n := manifests(); n != first {
		t.Errorf("the supervisor's passes asked the registry %d more times for an always image", n-first)
	}
	c.must("up", "-d")
	if n := manifests(); n <= first {
		t.Errorf("a second up did not pull the always image again (%d requests, %d before)", n, first)
	}
}
