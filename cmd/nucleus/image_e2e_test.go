package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"
	"nucleus/internal/testutil"
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

	c.must("down", "--timeout", "5s")
	c.assertNoLeaks()
	c.assertNoImageState()
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
