package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// BusyboxRootfs builds a minimal root file system with the host's static
// busybox (Debian package busybox-static): /bin with a few applets,
// /etc/passwd (root, and app = 1000:1000 with home /data), /etc/hosts, and
// the usual mount points.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "run", "etc", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		Require(t, false, "busybox-static (/bin/busybox)")
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "cat", "ls", "echo", "touch", "stat", "id", "wc", "sleep", "true"} {
		_ = os.Symlink("busybox", filepath.Join(dir, "bin", a))
	}
	_ = os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/data:/bin/sh\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644)
	return dir
}
