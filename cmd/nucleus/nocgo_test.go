package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryBuiltWithoutCgo: cgo and static glibc cost ~1.1 ms of every
// nucleus start (issue 15: glibc's CPUID probing traps to the hypervisor in
// a VM), so nothing linked into nucleus may use cgo (libseccomp is the
// nucleus-seccomp helper's), and make build builds it with CGO_ENABLED=0.
func TestBinaryBuiltWithoutCgo(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{if .CgoFiles}}{{.ImportPath}}{{end}}{{end}}", "nucleus/cmd/nucleus")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps nucleus/cmd/nucleus: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "kernel.org/pub/linux/libs/security/libcap/psx" {
			// go-landlock's: without cgo it uses syscall.AllThreadsSyscall
			// (as in nucleus-init, always built without cgo).
			continue
		}
		t.Errorf("nucleus links %s, which uses cgo; keep cgo in a helper binary (as nucleus-seccomp does libseccomp)", pkg)
	}

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mk, err := exec.Command("make", "-n", "-C", root, "build").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, mk)
	}
	found := false
	for _, line := range strings.Split(string(mk), "\n") {
		if strings.HasSuffix(strings.TrimSpace(line), " ./cmd/nucleus") {
			found = true
			if !strings.HasPrefix(strings.TrimSpace(line), "CGO_ENABLED=0 ") {
				t.Errorf("make build builds nucleus with cgo: %q; want CGO_ENABLED=0", line)
			}
		}
	}
	if !found {
		t.Errorf("make -n build shows no command building ./cmd/nucleus:\n%s", mk)
	}
}
