package network

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

// noXFRMEnv marks the child process of TestKernelNATWithoutXFRM: the one
// that runs under a seccomp filter refusing NETLINK_XFRM sockets.
const noXFRMEnv = "NUCLEUS_TEST_NO_XFRM"

// auditArch is the AUDIT_ARCH_* value of this build's native system call
// ABI, or 0 where the test does not know it.
func auditArch() uint32 {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64
	}
	return 0
}

// refuseXFRM installs, on every thread of this process (TSYNC) and so on
// every thread and child it creates afterwards, a seccomp filter that makes
// socket(AF_NETLINK, *, NETLINK_XFRM) fail with EPROTONOSUPPORT: what the
// kernel answers when xfrm_user is neither built in nor loadable. It cannot
// be undone; only the test's child process calls it.
func refuseXFRM() error {
	const (
		offNr   = 0  // seccomp_data.nr
		offArch = 4  // seccomp_data.arch
		offArg0 = 16 // seccomp_data.args[0], low 32 bits (little endian)
		offArg2 = 32 // seccomp_data.args[2], low 32 bits
	)
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	// jeq k: fall through when equal, else jump to the final ALLOW.
	prog := []unix.SockFilter{
		ld(offArch),
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: auditArch(), Jt: 0, Jf: 7},
		ld(offNr),
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_SOCKET, Jt: 0, Jf: 5},
		ld(offArg0),
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.AF_NETLINK, Jt: 0, Jf: 3},
		ld(offArg2),
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.NETLINK_XFRM, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPROTONOSUPPORT)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return errno
	}
	if r != 0 {
		return errors.New("seccomp: a thread could not be synchronised")
	}
	return nil
}

// TestKernelNATWithoutXFRM runs kernel NAT (and userspace NAT, whose hub
// uses netlink handles too) on a host where NETLINK_XFRM sockets cannot be
// created, as when the xfrm_user module is missing: nucleus uses only
// NETLINK_ROUTE and NETLINK_NETFILTER and must not need it. The module
// may be built in (and cannot be unloaded), so the test reruns itself in a
// child process under a seccomp filter that refuses those sockets.
func TestKernelNATWithoutXFRM(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.Require(t, auditArch() != 0, "seccomp audit arch known for "+runtime.GOARCH)
	if os.Getenv(noXFRMEnv) != "1" {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKernelNATWithoutXFRM$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), noXFRMEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("child under the no-XFRM seccomp filter:\n%s", out)
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		if !strings.Contains(string(out), "--- PASS: TestKernelNATWithoutXFRM/kernel") {
			t.Fatal("child did not run the kernel NAT case")
		}
		return
	}

	if err := refuseXFRM(); err != nil {
		t.Fatalf("install seccomp filter: %v", err)
	}
	// The filter is in place: XFRM is refused as without xfrm_user, ROUTE
	// is not, and a handle with every family fails as the issue reports.
	if fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_XFRM); err == nil {
		unix.Close(fd)
		t.Fatal("NETLINK_XFRM socket created under the filter")
	} else if !errors.Is(err, unix.EPROTONOSUPPORT) {
		t.Fatalf("NETLINK_XFRM socket: %v, want EPROTONOSUPPORT", err)
	}
	if h, err := netlink.NewHandle(); err == nil {
		h.Close()
		t.Fatal("netlink.NewHandle() with every family succeeded under the filter")
	} else {
		t.Logf("as on a host without xfrm_user: netlink.NewHandle(): %v", err)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("NETLINK_ROUTE handle under the filter: %v", err)
	}
	h.Close()

	t.Run("kernel", func(t *testing.T) {
		e := newEnv(t)
		ni := e.network("back", nil)
		a, b := sandbox(t), sandbox(t)
		ai := e.attach(Attachment{Network: "back", Service: "db", PID: a})
		e.attach(Attachment{Network: "back", Service: "web", PID: b})
		serveEcho(t, a, ":5432", "db:")
		mustTalk(t, b, ai.IP+":5432", "db:")
		ips, err := resolve(b, ni.Gateway, "db")
		if err != nil || len(ips) != 1 || ips[0] != ai.IP {
			t.Fatalf("resolve db from web: %v %v, want [%s]", ips, err, ai.IP)
		}
		if err := e.m.Detach(e.ctx, e.project, "back", "web", 1); err != nil {
			t.Fatalf("Detach: %v", err)
		}
	})
	t.Run("userspace", func(t *testing.T) {
		requireSlirp4netns(t)
		e := newEnv(t)
		e.usNetwork("back", nil)
		a, b := sandbox(t), sandbox(t)
		ai := e.attach(Attachment{Network: "back", Service: "db", PID: a})
		e.attach(Attachment{Network: "back", Service: "web", PID: b})
		serveEcho(t, a, ":5432", "db:")
		mustTalk(t, b, ai.IP+":5432", "db:")
	})
}

// TestNetlinkHandlesNameTheirFamilies keeps every netlink handle nucleus
// opens (network, runtime, cmd, internal, and their tests) to the families
// it names: a handle without families also opens NETLINK_XFRM and
// NETLINK_NETFILTER, and the first fails on hosts without xfrm_user.
func TestNetlinkHandlesNameTheirFamilies(t *testing.T) {
	minArgs := map[string]int{"NewHandle": 1, "NewHandleAt": 2, "NewHandleAtFrom": -1}
	fset := token.NewFileSet()
	for _, dir := range []string{"../network", "../runtime", "../cmd", "../internal"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			if filepath.Base(path) == "noxfrm_test.go" {
				return nil // opens every family on purpose, to show the filter works
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "netlink" {
					return true
				}
				if min, ok := minArgs[sel.Sel.Name]; ok && (min < 0 || len(call.Args) < min) {
					t.Errorf("%s: netlink.%s opens every netlink family (XFRM too); name them (unix.NETLINK_ROUTE)",
						fset.Position(call.Pos()), sel.Sel.Name)
				}
				return true
			})
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
}
