package cgroups

import (
	"os"
	"strings"
	"testing"

	"nucleus/internal/rootdir"
)

func TestDefaultManager(t *testing.T) {
	for _, c := range []struct {
		systemd, unified bool
		want             Manager
	}{
		{true, true, Systemd},
		{true, false, Cgroupfs},  // hybrid with systemd: direct placement unless asked
		{false, true, Cgroupfs},  // v2 without systemd (containers, the test VM)
		{false, false, Cgroupfs}, // v1
	} {
		if got := defaultManager(c.systemd, c.unified); got != c.want {
			t.Errorf("defaultManager(systemd=%v, unified=%v) = %s, want %s", c.systemd, c.unified, got, c.want)
		}
	}
}

func TestSelectManager(t *testing.T) {
	for _, c := range []struct {
		flag, env        string
		systemd, unified bool
		want             Manager
		err              string // substring of the error, "" for none
	}{
		{"", "", true, true, Systemd, ""},
		{"", "", true, false, Cgroupfs, ""},
		{"cgroupfs", "", true, true, Cgroupfs, ""},
		{"", "cgroupfs", true, true, Cgroupfs, ""},
		{"systemd", "cgroupfs", true, true, Systemd, ""}, // the flag wins
		{"cgroupfs", "systemd", true, true, Cgroupfs, ""},
		{"", "systemd", true, true, Systemd, ""},
		{"SystemD", "", true, true, Systemd, ""},
		{"systemd", "", false, true, "", "PID 1 is not systemd"},
		{"systemd", "", true, false, "", "pure cgroup v2"},
		{"", "systemd", false, false, "", ManagerEnv},
		{"docker", "", true, true, "", "--cgroup-manager: unknown cgroup manager"},
		{"", "bogus", true, true, "", ManagerEnv + ": unknown"},
	} {
		got, err := selectManager(c.flag, c.env, c.systemd, c.unified)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("selectManager(%q, %q, %v, %v): %v", c.flag, c.env, c.systemd, c.unified, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("selectManager(%q, %q, %v, %v) = %s, %v; want an error with %q", c.flag, c.env, c.systemd, c.unified, got, err, c.err)
		case c.err != "" && strings.Contains(err.Error(), "systemd:") && !strings.Contains(err.Error(), "--cgroup-manager cgroupfs"):
			t.Errorf("error %q does not name --cgroup-manager cgroupfs", err)
		case got != c.want:
			t.Errorf("selectManager(%q, %q, %v, %v) = %s, want %s", c.flag, c.env, c.systemd, c.unified, got, c.want)
		}
	}
}

func TestUnitNames(t *testing.T) {
	root := rootdir.Root{Run: "/run/nucleus-test-units"}
	id := root.ID()
	if got, want := scopeName(root, "web-site-1"), "nucleus-web-site-1-"+id+".scope"; got != want {
		t.Errorf("scopeName = %s, want %s", got, want)
	}
	if got, want := projectSlice(root, "web"), "nucleus-"+id+"-web.slice"; got != want {
		t.Errorf("projectSlice = %s, want %s", got, want)
	}
	// A dash in the project must not nest another slice.
	if got, want := projectSlice(root, "my-app"), `nucleus-`+id+`-my\x2dapp.slice`; got != want {
		t.Errorf("projectSlice(my-app) = %s, want %s", got, want)
	}
	if got, want := projectSlice(root, ""), "nucleus-"+id+".slice"; got != want {
		t.Errorf("projectSlice(\"\") = %s, want %s", got, want)
	}
	if got, want := slicePath(projectSlice(root, "my-app")),
		`/nucleus.slice/nucleus-`+id+`.slice/nucleus-`+id+`-my\x2dapp.slice`; got != want {
		t.Errorf("slicePath = %s, want %s", got, want)
	}
	if got := slicePath("-.slice"); got != "/" {
		t.Errorf("slicePath(-.slice) = %s", got)
	}
	if got, want := unitEscape(".a-b/c_d:e.f"), `\x2ea\x2db\x2fc_d:e.f`; got != want {
		t.Errorf("unitEscape = %s, want %s", got, want)
	}
}

func TestMemoryProps(t *testing.T) {
	p := memoryProps(Resources{Memory: 32 << 20}, true)
	if p[0].Name != "MemoryMax" || p[0].Value.Value() != uint64(32<<20) || p[1].Name != "MemorySwapMax" || p[1].Value.Value() != uint64(0) {
		t.Errorf("32M with swap accounting: %v", p)
	}
	p = memoryProps(Resources{}, true)
	if p[0].Value.Value() != ^uint64(0) || p[1].Value.Value() != ^uint64(0) {
		t.Errorf("unlimited: %v (want infinity)", p)
	}
	p = memoryProps(Resources{Memory: 32 << 20}, false)
	if p[1].Value.Value() != ^uint64(0) {
		t.Errorf("no swap accounting: %v", p)
	}
}

// The systemd layout is found by name under the root's slice, whatever the
// project.
func TestFindScope(t *testing.T) {
	old := mountBase
	mountBase = t.TempDir()
	defer func() { mountBase = old }()
	root := rootdir.Root{Run: "/run/nucleus-test-find"}
	dir := mountBase + slicePath(projectSlice(root, "my-app")) + "/" + scopeName(root, "my-app-web-1")
	if err := os.MkdirAll(dir+"/workload", 0o755); err != nil {
		t.Fatal(err)
	}
	g, ok := findScope(root, "my-app-web-1")
	if !ok || g != strings.TrimPrefix(dir, mountBase) {
		t.Errorf("findScope = %q, %v; want %q", g, ok, strings.TrimPrefix(dir, mountBase))
	}
	if g, ok := findScope(root, "my-app-web-2"); ok {
		t.Errorf("findScope of a missing sandbox = %q", g)
	}
}

// An unprivileged user gets no cgroup unless asked for one, and the notice
// says which limits go unenforced and why.
func TestRootlessNone(t *testing.T) {
	oldEuid, oldMgr, oldReason := euid, manager, noneReason
	defer func() { euid, manager, noneReason = oldEuid, oldMgr, oldReason }()
	euid = func() int { return 1001 }
	m, err := SelectManager("", "")
	if err != nil || m != None {
		t.Fatalf("SelectManager as uid 1001 = %s, %v; want none", m, err)
	}
	SetManager(m)
	// On v1/hybrid nothing can be delegated; on v2 (the VM: no systemd)
	// the reason is the missing user manager and how to start one.
	want := "no cgroup delegated to uid 1001 on this host (cgroup v1/hybrid)"
	if useV2() {
		want = "no cgroup delegated to uid 1001: no systemd user manager (/user.slice/user-1001.slice/user@1001.service; start one with loginctl enable-linger)"
	}
	r := Resources{Memory: 64 << 20, CPUs: 0.5, Pids: 10}
	if got := Notice("web", r); got != "nucleus: memory, cpus, pids limits of web are not enforced: "+want {
		t.Errorf("Notice = %q", got)
	}
	if got := Notice("web", Resources{Pids: 3}); got != "nucleus: pids limit of web is not enforced: "+want {
		t.Errorf("Notice(pids) = %q", got)
	}
	if got := Notice("web", Resources{}); got != "" {
		t.Errorf("Notice without limits = %q, want nothing", got)
	}
	// The detached supervisor gets --cgroup-manager none: same reason.
	if m, _ := SelectManager("none", ""); m != None || noneReason != want {
		t.Errorf("--cgroup-manager none as uid 1001 = %s (%q)", m, noneReason)
	}
	euid = func() int { return 0 }
	if m, _ := SelectManager("none", ""); m != None {
		t.Errorf("--cgroup-manager none = %s", m)
	}
	SetManager(None)
	if _, why := NotEnforced(r); why != "--cgroup-manager none" {
		t.Errorf("reason with --cgroup-manager none = %q", why)
	}
	// Root keeps today's choice.
	if m, _ := SelectManager("", ""); m == None {
		t.Errorf("root got no cgroup manager")
	}
	SetManager(Cgroupfs)
	if names, _ := NotEnforced(r); names != nil {
		t.Errorf("cgroupfs: %v not enforced", names)
	}
}

// An unprivileged user on a v2 host: its systemd manager where
// user@UID.service delegates a subtree and a socket of the manager is
// there; the limits of controllers it does not delegate are named.
func TestRootlessSystemdSelection(t *testing.T) {
	oldBase, oldV2, oldEuid, oldMgr := mountBase, useV2, euid, manager
	defer func() {
		mountBase, useV2, euid, manager = oldBase, oldV2, oldEuid, oldMgr
		userMode, sliceBase, delegated, userUID = false, "", nil, 0
	}()
	mountBase = t.TempDir()
	useV2 = func() bool { return true }
	euid = func() int { return 1001 }
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	if m, err := SelectManager("", ""); err != nil || m != None || !strings.Contains(noneReason, "no systemd user manager (/user.slice/user-1001.slice/user@1001.service") {
		t.Errorf("no user@1001.service: %s, %v, %q", m, err, noneReason)
	}
	if _, err := SelectManager("systemd", ""); err == nil || !strings.Contains(err.Error(), "--cgroup-manager none") {
		t.Errorf("--cgroup-manager systemd without a user manager: %v", err)
	}
	svc := mountBase + "/user.slice/user-1001.slice/user@1001.service"
	if err := os.MkdirAll(svc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(svc+"/cgroup.controllers", []byte("memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, _ := SelectManager("", ""); m != None || !strings.Contains(noneReason, rt+"/bus") {
		t.Errorf("no socket: %s, %q; want none naming %s/bus", m, noneReason, rt)
	}
	if err := os.MkdirAll(rt+"/systemd", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rt+"/systemd/private", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := SelectManager("", "")
	if err != nil || m != Systemd || !userMode || sliceBase != "/user.slice/user-1001.slice/user@1001.service" {
		t.Fatalf("delegated memory pids: %s, %v (user %v, base %q); want the user's systemd", m, err, userMode, sliceBase)
	}
	SetManager(m)
	if got := Notice("web", Resources{Memory: 1 << 20, CPUs: 1, Pids: 5}); got != "nucleus: cpus limit of web is not enforced: not delegated to uid 1001 (user@1001.service delegates memory, pids)" {
		t.Errorf("Notice = %q", got)
	}
	if got := Notice("web", Resources{Memory: 1 << 20, Pids: 5}); got != "" {
		t.Errorf("Notice of delegated limits = %q", got)
	}
	if _, err := SelectManager("cgroupfs", ""); err == nil || !strings.Contains(err.Error(), "needs root") {
		t.Errorf("--cgroup-manager cgroupfs as a user: %v", err)
	}
	if m, _ := SelectManager("none", ""); m != None || noneReason != "--cgroup-manager none" {
		t.Errorf("--cgroup-manager none where delegated: %s, %q", m, noneReason)
	}
}
