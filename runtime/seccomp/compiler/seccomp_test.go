package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/runtime/seccomp"
)

// writeDefaultBPF compiles the default profile in the test process and
// hands it to the child as a file, the way the runtime hands it to the init.
func writeDefaultBPF(t *testing.T) string {
	t.Helper()
	prog, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if prog.Mode() != seccomp.ModeDefault {
		t.Fatalf("Mode() = %q, want %q", prog.Mode(), seccomp.ModeDefault)
	}
	p := filepath.Join(t.TempDir(), "default.bpf")
	if err := os.WriteFile(p, prog.BPF(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultProfileInChild(t *testing.T) {
	rep := runChildScenario(t, "bpf", writeDefaultBPF(t))
	want := map[string]string{
		// not allowlisted: ENOSYS
		"clone3":                        "ENOSYS",
		"io_uring_setup":                "ENOSYS",
		"personality_read_implies_exec": "ENOSYS",
		// dangerous: EPERM
		"mount": "EPERM", "umount2": "EPERM", "unshare_newuser": "EPERM", "setns": "EPERM",
		"bpf": "EPERM", "keyctl": "EPERM", "add_key": "EPERM", "pivot_root": "EPERM",
		"chroot": "EPERM", "perf_event_open": "EPERM", "ptrace": "EPERM",
		"userfaultfd": "EPERM", "open_by_handle_at": "EPERM", "init_module": "EPERM",
		"kexec_load":    "EPERM",
		"clone_newuser": "EPERM", "clone_newnet": "EPERM",
		"ioctl_tiocsti": "EPERM", "ioctl_tiocsti_high": "EPERM", "ioctl_tioclinux": "EPERM",
		// allowed: the kernel's own answer
		"clone_thread_plain": "EINVAL", // CLONE_THREAD without CLONE_SIGHAND
		"ioctl_tcgets":       "ENOTTY",
		"personality_query":  "",
		"file_io":            "",
		"fork_exec":          "",
		"userland":           "",
		"getcwd":             "",
		"fchdir_1000":        "EBADF",
	}
	for k, v := range want {
		if got, ok := rep.Errno[k]; !ok || got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	for k, v := range map[string]string{"seccomp": "2", "nnp": "1", "exec_seccomp": "Seccomp:\t2", "unfiltered_threads": "0"} {
		if rep.Values[k] != v {
			t.Errorf("%s = %q, want %q", k, rep.Values[k], v)
		}
	}
	if rep.Errno["userland"] != "" {
		t.Logf("userland output: %s", rep.Values["userland_output"])
	}
	t.Logf("threads filtered: %s; install took %s ns", rep.Values["threads"], rep.Values["install_ns"])
}

// InstallThread filters the calling thread and what it forks, nothing else.
func TestInstallThread(t *testing.T) {
	rep := runChildScenario(t, "thread", writeDefaultBPF(t))
	for k, v := range map[string]string{"mount": "EPERM", "unshare_newuser": "EPERM", "clone3": "ENOSYS", "fork_exec": "", "file_io": ""} {
		if got := rep.Errno[k]; got != v {
			t.Errorf("%s on the filtered thread: got %q, want %q", k, got, v)
		}
	}
	if rep.Values["thread_seccomp"] != "2" || rep.Values["exec_seccomp"] != "Seccomp:\t2" {
		t.Errorf("thread Seccomp=%q, forked child %q; want 2 for both", rep.Values["thread_seccomp"], rep.Values["exec_seccomp"])
	}
	if rep.Values["unfiltered_threads"] == "0" {
		t.Errorf("all %s threads are filtered; InstallThread must leave the others alone", rep.Values["threads"])
	}
}

// Without the filter the same probes must give the kernel's answers, or the
// EPERM/ENOSYS assertions above would prove nothing.
func TestProbesWithoutFilter(t *testing.T) {
	testutil.RequireRoot(t)
	rep := runChildScenario(t, "unconfined", "")
	for _, k := range []string{"mount", "setns", "bpf", "clone_newuser", "ioctl_tiocsti", "ioctl_tiocsti_high", "clone3", "io_uring_setup", "pivot_root"} {
		if got := rep.Errno[k]; got == "EPERM" || got == "ENOSYS" {
			t.Errorf("%s without a filter gave %s: the probe cannot tell the filter's answer from the kernel's", k, got)
		}
	}
	if rep.Values["seccomp"] != "0" || rep.Values["nnp"] != "1" {
		t.Errorf("unconfined: Seccomp=%s NoNewPrivs=%s, want 0 and 1", rep.Values["seccomp"], rep.Values["nnp"])
	}
}

func TestCapabilityReallowsSyscalls(t *testing.T) {
	testutil.RequireRoot(t)
	rep := runChildScenario(t, "ptrace-cap", "")
	if got := rep.Errno["ptrace"]; got != "ESRCH" {
		t.Errorf("ptrace with CAP_SYS_PTRACE: got %q, want the kernel's ESRCH", got)
	}
	if got := rep.Errno["mount"]; got != "EPERM" {
		t.Errorf("mount with only CAP_SYS_PTRACE: got %q, want EPERM", got)
	}
}

func TestSysAdminReallowsNamespaces(t *testing.T) {
	testutil.RequireRoot(t)
	rep := runChildScenario(t, "admin-cap", "")
	for k, v := range map[string]string{
		// the kernel's answers (a multi-threaded process cannot unshare a user namespace)
		"mount": "ENOENT", "unshare_newuser": "EINVAL", "setns": "EBADF", "clone_newuser": "EINVAL", "pivot_root": "ENOENT",
		// still refused
		"ptrace": "EPERM", "keyctl": "EPERM", "clone3": "ENOSYS", "ioctl_tiocsti": "EPERM",
	} {
		if got := rep.Errno[k]; got != v {
			t.Errorf("%s with CAP_SYS_ADMIN: got %q, want %q", k, got, v)
		}
	}
}

func TestOCIProfileInChild(t *testing.T) {
	profile := `{
	  "defaultAction": "SCMP_ACT_ALLOW",
	  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
	  "syscalls": [
	    {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18},
	    {"names": ["fchdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1000, "op": "SCMP_CMP_EQ"}]},
	    {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
	    {"name": "mount", "action": "SCMP_ACT_ERRNO"}
	  ]
	}`
	p := filepath.Join(t.TempDir(), "custom.json")
	if err := os.WriteFile(p, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := runChildScenario(t, "oci", p)
	for k, v := range map[string]string{"getcwd": "EXDEV", "fchdir_1000": "EPERM", "fchdir_1001": "EBADF", "mount": "EPERM", "clone3": "EINVAL"} {
		if got := rep.Errno[k]; got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if rep.Values["seccomp"] != "2" {
		t.Errorf("Seccomp = %q, want 2", rep.Values["seccomp"])
	}
	prog, err := LoadProfileFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if prog.Mode() != "profile:custom.json" {
		t.Errorf("Mode() = %q, want profile:custom.json", prog.Mode())
	}
}

func TestOCIProfileErrors(t *testing.T) {
	cases := []struct{ name, json, want string }{
		{"bad json", `{"defaultAction": "SCMP_ACT_ALLOW",`, "parse seccomp profile JSON"},
		{"trailing", `{"defaultAction": "SCMP_ACT_ALLOW"} {}`, "trailing data"},
		{"no default", `{"syscalls": []}`, "defaultAction is required"},
		{"unknown syscall", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "frobnicate"], "action": "SCMP_ACT_ALLOW"}]}`, `unknown syscall "frobnicate"`},
		{"unknown action", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_MAYBE"}]}`, `unknown action "SCMP_ACT_MAYBE"`},
		{"notify", `{"defaultAction": "SCMP_ACT_NOTIFY"}`, "not supported"},
		{"unknown op", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}`, `unknown op "SCMP_CMP_ABOUT"`},
		{"bad index", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`, "index 6 out of range"},
		{"unknown arch", `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_Z80"]}`, `unknown architecture "SCMP_ARCH_Z80"`},
		{"empty names", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}`, "names is empty"},
		{"errno range", `{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 5000}`, "out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromOCIProfile([]byte(c.json))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

// Two comparisons of the same argument compile (as alternatives, like runc).
func TestOCIProfileSameArgumentTwice(t *testing.T) {
	_, err := FromOCIProfile([]byte(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
	  {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
	    {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
}

// Every built-in name must be a real syscall: a typo would silently turn an
// allowed syscall into ENOSYS or a denied one into ENOSYS instead of EPERM.
func TestDefaultListsAreKnownAndDisjoint(t *testing.T) {
	seen := map[string]string{}
	for list, names := range map[string][]string{"allowed": allowedSyscalls, "denied": deniedSyscalls} {
		for _, n := range names {
			if _, newer := newerSyscalls[n]; !knownSyscall(n) && !newer {
				t.Errorf("%s syscall %q unknown to libseccomp", list, n)
			}
			// The nucleus binary's table (no libseccomp there) agrees.
			if seccomp.KnownSyscall(n) != knownSyscall(n) {
				t.Errorf("%s syscall %q: table says known %v, libseccomp %v", list, n, seccomp.KnownSyscall(n), knownSyscall(n))
			}
			if prev, dup := seen[n]; dup {
				t.Errorf("syscall %q is in %s and %s", n, prev, list)
			}
			seen[n] = list
		}
	}
	for _, n := range []string{"clone", "clone3", "ioctl", "personality", "socket"} {
		if _, listed := seen[n]; listed {
			t.Errorf("%s must only get conditional rules, but is in the %s list", n, seen[n])
		}
	}
	for c, names := range capSyscalls {
		for _, n := range names {
			if seen[n] != "denied" {
				t.Errorf("%s re-allows %q, which is not on the denied list", c, n)
			}
		}
	}
	if knownSyscall("frobnicate") || !knownSyscall("read") {
		t.Error("KnownSyscall gives wrong answers for read/frobnicate")
	}
}

func TestDefaultIsCompiledOnce(t *testing.T) {
	a, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Default()
	if a != b {
		t.Error("Default() compiled twice")
	}
	if n, _ := DefaultFor([]string{"CAP_NET_BIND_SERVICE", "CAP_CHOWN"}); n != a {
		t.Error("capabilities without syscall rules compiled a separate filter")
	}
	c, err := DefaultFor([]string{"sys_ptrace"})
	if err != nil {
		t.Fatal(err)
	}
	if c == a || string(c.BPF()) == string(a.BPF()) {
		t.Error("DefaultFor(CAP_SYS_PTRACE) returned the plain default filter")
	}
	if a.Instructions() < 100 || a.Instructions() > maxInstructions {
		t.Errorf("default filter has %d instructions", a.Instructions())
	}
}

// Docker-format profiles: archMap and includes/excludes.
func TestOCIDockerExtensions(t *testing.T) {
	p, err := parseOCIProfile([]byte(`{
	  "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
	  "archMap": [
	    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
	    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
	  ],
	  "syscalls": [
	    {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
	    {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_PTRACE"]}},
	    {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
	    {"names": ["sync_file_range2"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["ppc64le"]}},
	    {"names": ["frobnicate_riscv"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["riscv64"]}},
	    {"names": ["unshare"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
	    {"names": ["write"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}}
	  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.arches) != 2 {
		t.Errorf("arches = %v, want x86 and x32 (sub-architectures of the native one only)", p.arches)
	}
	var got []string
	for _, r := range p.rules {
		got = append(got, r.names...)
	}
	if strings.Join(got, ",") != "read,arch_prctl,unshare" {
		t.Errorf("rules for %v, want read,arch_prctl,unshare", got)
	}
	if _, err := compile(p); err != nil {
		t.Fatal(err)
	}
}
