package seccomp_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/runtime/seccomp"
	"nucleus/runtime/seccomp/compiler"
)

// The nucleus side of the helper compiles, through a real nucleus-seccomp,
// exactly what the compiler does in process, passes the compiler's errors
// on, and names the helper when it is missing.
func TestHelperCompilesAsCompiler(t *testing.T) {
	t.Setenv(seccomp.HelperEnv, "")
	_, err := seccomp.FromOCIProfile([]byte(`{"defaultAction": "SCMP_ACT_ALLOW"}`))
	if err == nil || !strings.Contains(err.Error(), "nucleus-seccomp, expected next to ") || !strings.Contains(err.Error(), "$NUCLEUS_SECCOMP") {
		t.Errorf("without the helper: %v; want an error naming nucleus-seccomp, where it was expected and $NUCLEUS_SECCOMP", err)
	}

	dir := t.TempDir()
	if err := testutil.BuildSeccompHelper(dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv(seccomp.HelperEnv, filepath.Join(dir, "nucleus-seccomp"))
	for _, caps := range [][]string{nil, {"sys_ptrace"}, {"CAP_SYS_ADMIN", "CAP_NET_RAW"}} {
		got, err := seccomp.DefaultFor(caps)
		if err != nil {
			t.Fatalf("DefaultFor(%v) through the helper: %v", caps, err)
		}
		want, err := compiler.DefaultFor(caps)
		if err != nil {
			t.Fatal(err)
		}
		if got.Mode() != seccomp.ModeDefault || !bytes.Equal(got.BPF(), want.BPF()) {
			t.Errorf("DefaultFor(%v): mode %q, %d instructions; want %q and the compiler's %d instructions, byte for byte",
				caps, got.Mode(), got.Instructions(), seccomp.ModeDefault, want.Instructions())
		}
	}
	profile := []byte(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}`)
	got, err := seccomp.FromOCIProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	want, err := compiler.FromOCIProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.BPF(), want.BPF()) {
		t.Errorf("profile through the helper: %d instructions, the compiler's %d differ", got.Instructions(), want.Instructions())
	}
	_, err = seccomp.FromOCIProfile([]byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["frobnicate"], "action": "SCMP_ACT_ERRNO"}]}`))
	if err == nil || !strings.Contains(err.Error(), `syscalls[0]: unknown syscall "frobnicate"`) {
		t.Errorf("unknown syscall through the helper: %v; want the compiler's error naming syscalls[0] and the name", err)
	}
}
