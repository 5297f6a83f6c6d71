package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/runtime"
)

// TestCLICp copies files and directories out of and into a running
// replica, with ownership mapped, and proves that symlinks the sandbox
// planted (absolute, to host paths) resolve inside the sandbox or fail,
// never reaching the host's files.
func TestCLICp(t *testing.T) {
	c := newCLI(t)
	hostDir := t.TempDir() // a host directory the sandbox's symlinks name
	testutil.WriteFile(t, filepath.Join(hostDir, "secret"), "host secret\n")
	testutil.WriteFile(t, filepath.Join(hostDir, "victim"), "host file\n")
	c.writeYAML("name: " + c.project + `
services:
  app:
    command: ["/bin/busybox", "sh", "-c", "mkdir -p /tmp/d/sub; echo in-sandbox > /tmp/d/sub/f; ln -s /etc/shadow /tmp/d/evil; ln -s ` + hostDir + ` /tmp/esc; ln -s ` + hostDir + `/victim /tmp/victim; exec /bin/busybox sleep 1000"]
    stop_grace_period: 0s
`)
	c.must("up", "-d", "--wait")
	out := t.TempDir()

	// Out: a directory, recursively, owned by the caller; symlinks as symlinks.
	c.must("cp", "app:/tmp/d", out+"/")
	if b, err := os.ReadFile(filepath.Join(out, "d", "sub", "f")); err != nil || string(b) != "in-sandbox\n" {
		t.Errorf("cp app:/tmp/d: d/sub/f = %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(out, "d", "evil")); err != nil || l != "/etc/shadow" {
		t.Errorf("cp app:/tmp/d: d/evil = %q, %v; want the symlink itself", l, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "d", "sub", "f")); err == nil && int(fi.Sys().(*syscall.Stat_t).Uid) != os.Getuid() {
		t.Errorf("copied out file owned by %d, want the caller %d", fi.Sys().(*syscall.Stat_t).Uid, os.Getuid())
	}
	c.must("cp", "app-1:/tmp/d/sub/f", filepath.Join(out, "g"))
	if b, _ := os.ReadFile(filepath.Join(out, "g")); string(b) != "in-sandbox\n" {
		t.Errorf("cp app-1:/tmp/d/sub/f g: %q", b)
	}

	// In: owned by the sandbox's root; -a keeps the uid/gid inside.
	in := t.TempDir()
	testutil.WriteFile(t, filepath.Join(in, "x", "h"), "from host\n")
	if err := os.Chown(filepath.Join(in, "x", "h"), 1234, 1235); err != nil {
		t.Fatal(err)
	}
	c.must("cp", filepath.Join(in, "x"), "app:/tmp/")
	c.must("cp", "-a", filepath.Join(in, "x", "h"), "app:/tmp/h2")
	if got := c.must("exec", "-T", "app", "/bin/busybox", "sh", "-c", "cat /tmp/x/h; /bin/busybox stat -c '%u:%g' /tmp/x /tmp/x/h /tmp/h2"); got != "from host\n0:0\n0:0\n1234:1235\n" {
		t.Errorf("inside after cp in: %q, want the content, root-owned, and 1234:1235 with -a", got)
	}
	base, err := runtime.ProjectIDRange(c.rootdir(), c.project)
	if err != nil {
		t.Fatal(err)
	}
	pid := c.ps()["app"].PID
	if fi, err := os.Lstat(filepath.Join("/proc", fmt.Sprint(pid), "root", "tmp", "x", "h")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != base {
		t.Errorf("copied-in file on the host: %v, want owned by the project's root %d", err, base)
	}

	// Symlinks planted by the sandbox never lead to host paths.
	if _, errOut, code := c.run("cp", "app:/tmp/esc/secret", out+"/"); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("cp app:/tmp/esc/secret (a symlink to a host dir): exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(out, "secret")); err == nil {
		t.Errorf("cp followed a sandbox symlink out to the host's %s/secret", hostDir)
	}
	if _, _, code := c.run("cp", filepath.Join(in, "x", "h"), "app:/tmp/esc/"); code != 1 {
		t.Errorf("cp into /tmp/esc/ (a symlink to a host dir): exit %d, want 1", code)
	}
	if _, _, code := c.run("cp", filepath.Join(in, "x", "h"), "app:/tmp/victim"); code != 1 {
		t.Errorf("cp onto /tmp/victim (a symlink to a host file): exit %d, want 1", code)
	}
	ents, _ := os.ReadDir(hostDir)
	if b, _ := os.ReadFile(filepath.Join(hostDir, "victim")); string(b) != "host file\n" || len(ents) != 2 {
		t.Errorf("cp in through sandbox symlinks changed the host directory: victim %q, %d entries", b, len(ents))
	}

	// Errors: no replica named; a stopped replica.
	if _, errOut, code := c.run("cp", "nosuch:/x", out); code != 2 || !strings.Contains(errOut, "names a replica of project "+c.project) {
		t.Errorf("cp nosuch:/x: exit %d, stderr %q", code, errOut)
	}
	c.must("stop", "app")
	if _, errOut, code := c.run("cp", "app:/tmp/d", out); code != 1 || !strings.Contains(errOut, "app-1 of project "+c.project+" is not running") {
		t.Errorf("cp from a stopped replica: exit %d, stderr %q", code, errOut)
	}
}
