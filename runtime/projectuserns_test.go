package runtime

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"nucleus/internal/keeper"
	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
	"nucleus/runtime/cgroups"
	"nucleus/runtime/seccomp"
)

const projectUserNSHelperEnv = "NUCLEUS_TEST_PROJECT_USERNS"

// TestRootlessProjectUserNS: as an ordinary user, two sandboxes of one
// project join the project's user namespace (held by its keeper), so the
// user can put a veth between their network namespaces and one fetches
// from the other by address; both keep their own network, pid and mount
// namespaces and drop every capability; stopping the keeper after the
// sandboxes leaves no process of the user. Without the shared namespace
// the veth is refused (EPERM: no CAP_NET_ADMIN over a sibling namespace).
func TestRootlessProjectUserNS(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	testutil.RequireBinary(t, "nsenter", "util-linux")
	e := testutil.NewUserEnv(t, u)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := e.CopyExecutable(t, self, "runtime.test")
	initBin := e.CopyExecutable(t, os.Getenv(InitBinaryEnv), "nucleus-init")
	seccompBin := e.CopyExecutable(t, os.Getenv(seccomp.HelperEnv), "nucleus-seccomp")
	e.Env = append(e.Env, InitBinaryEnv+"="+initBin, seccomp.HelperEnv+"="+seccompBin, projectUserNSHelperEnv+"=1")
	r := e.Run(t, bin, "-test.run=^TestRootlessProjectUserNSHelper$", "-test.v", "-test.count=1")
	if r.Code != 0 || !strings.Contains(r.Stdout, "--- PASS: TestRootlessProjectUserNSHelper") {
		t.Fatalf("helper as %s: %s", u.Name, r)
	}
	if _, err := os.Stat(filepath.Join(e.Root.Run, "userns")); err == nil {
		t.Errorf("%s left after the keeper stopped", filepath.Join(e.Root.Run, "userns"))
	}
}

// TestRootlessProjectUserNSHelper is the unprivileged half of
// TestRootlessProjectUserNS.
func TestRootlessProjectUserNSHelper(t *testing.T) {
	if os.Getenv(projectUserNSHelperEnv) == "" {
		t.Skip("helper of TestRootlessProjectUserNS")
	}
	testutil.Require(t, os.Geteuid() != 0, "helper runs unprivileged")
	m, err := cgroups.SelectManager("", os.Getenv(cgroups.ManagerEnv))
	if err != nil {
		t.Fatal(err)
	}
	cgroups.SetManager(m) // none here (v1/hybrid), the user's manager where delegated
	root := rootdir.Root{Run: filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "nucleus"), Data: filepath.Join(os.Getenv("XDG_DATA_HOME"), "nucleus")}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	userns, err := ProjectUserNS(root, "pj")
	if err != nil {
		t.Fatal(err)
	}
	keeperDir := projectUserNSDir(root, "pj")
	k, ok := keeper.Find(keeperDir)
	if !ok {
		t.Fatalf("no keeper recorded in %s", keeperDir)
	}
	defer func() {
		if err := StopProjectUserNS(root, "pj"); err != nil {
			t.Error(err)
		}
		if _, ok := keeper.Find(keeperDir); ok {
			t.Errorf("keeper %d still runs after StopProjectUserNS", k.PID)
		}
	}()
	if again, err := ProjectUserNS(root, "pj"); err != nil || again != userns {
		t.Errorf("second ProjectUserNS: %q, %v; want the same keeper's %q", again, err, userns)
	}

	web := `mkdir /tmp/w && echo east-west >/tmp/w/index.html && exec /bin/busybox httpd -f -p 8080 -h /tmp/w`
	client := `grep CapEff /proc/self/status; for i in $(seq 100); do /bin/busybox wget -q -O- http://10.7.0.1:8080/ && exit 0; sleep 0.1; done; exit 1`
	var out, errb bytes.Buffer
	mk := func(id, script string, stdout io.Writer) *Sandbox {
		sb, err := Create(ctx, Config{Root: root, Project: "pj", ID: id, UserNSPath: userns,
			Service: service("/bin/busybox", "sh", "-c", script), Stdout: stdout, Stderr: &errb})
		if err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
		t.Cleanup(func() { sb.Remove(context.Background()) })
		return sb
	}
	a, b := mk("pj-web", web, io.Discard), mk("pj-client", client, &out)
	ns := func(pid int, kind string) string {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
		return l
	}
	if want := ns(k.PID, "user"); ns(a.PID(), "user") != want || ns(b.PID(), "user") != want {
		t.Errorf("user namespaces: keeper %s, sandboxes %s and %s; want one", want, ns(a.PID(), "user"), ns(b.PID(), "user"))
	}
	for _, kind := range []string{"net", "pid", "mnt"} {
		if ns(a.PID(), kind) == ns(b.PID(), kind) || ns(a.PID(), kind) == ns(os.Getpid(), kind) {
			t.Errorf("%s namespace shared: %s %s (host %s)", kind, ns(a.PID(), kind), ns(b.PID(), kind), ns(os.Getpid(), kind))
		}
	}
	// The user wires the two, as the hub will: a veth from a's namespace
	// with its peer in b's, made from inside the project's user namespace
	// (this binary through nsenter: wireVeth).
	cmd := exec.Command("nsenter", "-t", fmt.Sprint(a.PID()), "-U", "-n", "--preserve-credentials", os.Args[0])
	cmd.Env = append(os.Environ(), wireVethEnv+"="+fmt.Sprint(b.PID()))
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("veth from the namespace of %d to that of %d: %v: %s", a.PID(), b.PID(), err, o)
	}
	for _, sb := range []*Sandbox{a, b} {
		if err := sb.Start(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := b.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.Code != 0 || !strings.Contains(out.String(), "east-west") {
		t.Errorf("client exited %+v: %q (stderr %q)", st, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "CapEff:\t0000000000000000") {
		t.Errorf("capabilities of a sandbox in the project user namespace: %q, want none", out.String())
	}
	for _, sb := range []*Sandbox{a, b} {
		if err := sb.Remove(ctx); err != nil {
			t.Errorf("remove %s: %v", sb.ID(), err)
		}
	}
}

const wireVethEnv = "NUCLEUS_TEST_WIRE_VETH"

// wireVeth runs in this binary started by nsenter in a sandbox's user and
// network namespaces: eth0 10.7.0.1/24 here, its peer eth0 10.7.0.2/24 in
// the network namespace of pid $NUCLEUS_TEST_WIRE_VETH. (Netlink, not ip:
// busybox's ip, in the v2 VM, ignores "peer ... netns".)
func wireVeth() {
	if err := wireVethErr(os.Getenv(wireVethEnv)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func wireVethErr(peerPid string) error {
	pid, err := strconv.Atoi(peerPid)
	if err != nil {
		return err
	}
	peerNS, err := netns.GetFromPid(pid)
	if err != nil {
		return err
	}
	defer peerNS.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(peerNS))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth: %w", err)
	}
	ph, err := netlink.NewHandleAt(peerNS, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in the peer's namespace: %w", err)
	}
	defer ph.Close()
	for _, end := range []struct {
		h  *netlink.Handle
		ip string
	}{{nil, "10.7.0.1/24"}, {ph, "10.7.0.2/24"}} {
		h := end.h
		if h == nil {
			if h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
				return err
			}
			defer h.Close()
		}
		l, err := h.LinkByName("eth0")
		if err != nil {
			return err
		}
		addr, _ := netlink.ParseAddr(end.ip)
		if err := h.AddrAdd(l, addr); err != nil {
			return fmt.Errorf("address %s: %w", end.ip, err)
		}
		if err := h.LinkSetUp(l); err != nil {
			return err
		}
	}
	return nil
}
