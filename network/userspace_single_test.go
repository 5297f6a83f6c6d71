package network

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/network/slirp"
	"nucleus/spec"
)

// rootlessSandbox starts a stand-in for a rootless sandbox: a process in
// its own user and network namespaces.
func rootlessSandbox(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("sleep", "3600")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// singleEnv is a test env whose userspace networks use the per-sandbox
// shape (what a non-root Manager gets).
func singleEnv(t *testing.T) *testEnv {
	requireSlirp4netns(t)
	e := newEnv(t)
	e.m.userspace = &userspaceBackend{root: e.m.root, slirps: map[string]*slirp.Network{}, forceSandboxMode: true}
	return e
}

// slirps lists the slirp4netns processes whose command line names root:
// PID -> command line, arguments joined by spaces.
func slirps(root string) map[int]string { return helperProcs("slirp4netns", root) }

// helperProcs lists the processes of binary whose command line names root.
func helperProcs(binary, root string) map[int]string {
	out := map[int]string{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), root) && strings.HasPrefix(string(b), binary+"\x00") {
			out[pid] = strings.ReplaceAll(string(b), "\x00", " ")
		}
	}
	return out
}

// slirpCmdlines is the command lines of slirps(root).
func slirpCmdlines(root string) []string {
	return slices.Collect(maps.Values(slirps(root)))
}

func TestUserspacePerSandboxMode(t *testing.T) {
	e := singleEnv(t)
	o := newOutside(t)
	serveEcho(t, o.pid, o.addr+":8080", "outside:")
	e.usNetwork("solo", func(n *Config) { n.Subnet = "10.0.2.0/24"; n.UserspaceBackend = spec.UserspaceSlirp })
	// /etc/hosts is written before Attach: the reserved address must be
	// the one slirp4netns gives the sandbox.
	if ip, err := e.m.Reserve(e.project, "solo", "web", 1, ""); err != nil || ip != "10.0.2.100" {
		t.Errorf("Reserve in per-sandbox mode: %s %v, want slirp4netns's guest address 10.0.2.100", ip, err)
	}
	sb := rootlessSandbox(t)
	p := testutil.FreePort(t)
	ai := e.attach(Attachment{Network: "solo", Service: "web", PID: sb, Ports: []Port{{Target: 80, Published: p, HostIP: "127.0.0.1", Protocol: "tcp"}}})
	if ai.IP != "10.0.2.100" || ai.Interface != "tap0" {
		t.Errorf("attach info %+v, want 10.0.2.100 on tap0", ai)
	}
	serveEcho(t, sb, ":80", "web:")
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p), "web:")
	mustTalk(t, sb, o.addr+":8080", "outside:")

	cmds := slirpCmdlines(e.m.root.Run)
	if len(cmds) != 1 || !strings.Contains(cmds[0], fmt.Sprintf("--userns-path=/proc/%d/ns/user", sb)) ||
		!strings.Contains(cmds[0], fmt.Sprintf(" %d tap0", sb)) || strings.Contains(cmds[0], "--disable-dns") {
		t.Errorf("slirp4netns command lines %q: want one, targeting pid %d with its user namespace", cmds, sb)
	}
	if ns, err := e.m.Nameservers(e.project, []string{"solo"}); err != nil || len(ns) != 1 || ns[0] != "10.0.2.3" {
		t.Errorf("nameservers %q %v: want slirp4netns's DNS 10.0.2.3", ns, err)
	}

	// Live port change, then detach: the process goes away.
	p2 := testutil.FreePort(t)
	if err := e.m.Update(e.ctx, Attachment{Project: e.project, Network: "solo", Service: "web", PID: sb, Ports: []Port{{Target: 80, Published: p2, HostIP: "127.0.0.1", Protocol: "tcp"}}}); err != nil {
		t.Fatal(err)
	}
	mustTalk(t, 0, fmt.Sprintf("127.0.0.1:%d", p2), "web:")
	if err := e.m.Detach(e.ctx, e.project, "solo", "web", 1); err != nil {
		t.Fatal(err)
	}
	if cmds := slirpCmdlines(e.m.root.Run); len(cmds) != 0 {
		t.Errorf("slirp4netns still running after detach: %q", cmds)
	}
}

func TestUserspacePerSandboxRefusals(t *testing.T) {
	e := singleEnv(t)
	e.usNetwork("solo", func(n *Config) { n.Subnet = "10.0.2.0/24"; n.UserspaceBackend = spec.UserspaceSlirp })
	sb := rootlessSandbox(t)
	_, err := e.m.Attach(e.ctx, Attachment{Project: e.project, Network: "solo", Service: "web", PID: sb, IPv4: "10.0.2.5"})
	if err == nil || !strings.Contains(err.Error(), "10.0.2.5") || !strings.Contains(err.Error(), "10.0.2.100") {
		t.Errorf("static 10.0.2.5: %v, want an error naming it and the guest 10.0.2.100", err)
	}
	_, err = e.m.Attach(e.ctx, Attachment{Project: e.project, Network: "solo", Service: "web", PID: sb, Egress: &Egress{}})
	if err == nil || !strings.Contains(err.Error(), "egress") {
		t.Errorf("egress in per-sandbox mode: %v, want a refusal", err)
	}
}

// TestUserspacePerSandboxRefusedForward drives the backend directly (the
// Manager would refuse the taken port itself first): slirp4netns's refusal
// comes back in its own words and nothing of the sandbox's network is left.
func TestUserspacePerSandboxRefusedForward(t *testing.T) {
	e := singleEnv(t)
	e.usNetwork("solo", func(n *Config) { n.Subnet = "10.0.2.0/24"; n.UserspaceBackend = spec.UserspaceSlirp })
	n, _ := e.m.loadNetwork(e.project, "solo")
	port := testutil.HoldPort(t, "127.0.0.1")
	sb := rootlessSandbox(t)
	a := &AttachmentState{Service: "web", Replica: 1, PID: sb, IP: "10.0.2.2",
		Ports: []Port{{Target: 80, Published: port, HostIP: "127.0.0.1", Protocol: "tcp"}}}
	err := e.m.userspace.attach(context.Background(), n, a)
	want := fmt.Sprintf("slirp4netns add_hostfwd failed for 127.0.0.1:%d->80/tcp: ", port)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("attach: %v, want prefix %q", err, want)
	}
	if cmds := slirpCmdlines(e.m.root.Run); len(cmds) != 0 {
		t.Errorf("slirp4netns left running: %q", cmds)
	}
	if err := in(sb, func() error {
		if _, err := net.InterfaceByName("tap0"); err == nil {
			return fmt.Errorf("tap0 left in the sandbox")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}
