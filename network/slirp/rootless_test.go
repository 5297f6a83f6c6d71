package slirp

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"nucleus/internal/testutil"
)

// rootlessEnv carries the runtime root to the helper process.
const rootlessEnv = "NUCLEUS_SLIRP_ROOTLESS_RUNTIME"

// TestRootless runs the driver as an unprivileged user (nobody) against a
// sandbox in that user's own user namespace: the shape nucleus uses when
// it is not root, with --userns-path.
func TestRootless(t *testing.T) {
	requireSlirp(t)
	dir := t.TempDir()
	for d := dir; d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // let nobody reach the copied test binary
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "slirp.test")
	copyFile(t, self, bin)
	rt := filepath.Join(dir, "rt")
	if err := os.Mkdir(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chown(rt, 65534, 65534)

	args := []string{bin, "-test.run=^TestRootlessHelper$", "-test.v", "-test.count=1"}
	cmd := exec.Command(args[0], args[1:]...)
	if st, err := os.Stat("/dev/net/tun"); err == nil && st.Mode().Perm()&0o006 == 0o006 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	} else {
		// This host keeps /dev/net/tun private to root (distributions ship
		// it 0666). Give only the helper a world-usable node for the same
		// device, in a mount namespace of its own; the host is untouched.
		t.Logf("/dev/net/tun is not usable by other users here; the helper gets a private 0666 node")
		if err := testutil.TunAsUser(cmd, dir, 0o666, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	cmd.Env = append(os.Environ(), rootlessEnv+"="+rt)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ROOTLESS-OK") {
		t.Fatalf("helper as nobody: %v\n%s", err, out)
	}
	if ents, _ := os.ReadDir(rt); len(ents) != 0 {
		t.Errorf("runtime root not empty after the rootless run: %v", ents)
	}
}

func copyFile(t *testing.T, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// TestRootlessHelper is the unprivileged half of TestRootless.
func TestRootlessHelper(t *testing.T) {
	rt := os.Getenv(rootlessEnv)
	if rt == "" {
		t.Skip("helper of TestRootless")
	}
	testutil.Require(t, os.Geteuid() != 0, "helper runs unprivileged")
	uid, gid := os.Getuid(), os.Getgid()
	sb := exec.Command("sleep", "60")
	sb.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := sb.Start(); err != nil {
		t.Fatalf("rootless sandbox: %v", err)
	}
	defer func() { sb.Process.Kill(); sb.Wait() }()
	pid := sb.Process.Pid
	p := testutil.FreePort(t)
	n, err := New(Config{ID: "rootless", RuntimeRoot: rt, PID: pid, UsernsPath: fmt.Sprintf("/proc/%d/ns/user", pid), DisableDNS: true,
		Forwards: []Forward{{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: p, GuestPort: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("start as uid %d: %v", uid, err)
	}
	// The sandbox's own view of its devices (readable by its owner).
	dev, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil || !strings.Contains(string(dev), "tap0") {
		t.Errorf("tap0 in the rootless sandbox: %v\n%s", err, dev)
	}
	if list, err := n.Forwards(); err != nil || len(list) != 1 {
		t.Errorf("forwards %v %v", list, err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ROOTLESS-OK")
}
