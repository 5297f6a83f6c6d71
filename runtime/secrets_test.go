package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// TestPrivateKeyDirsMasked: under `userns: host` root inside reads what host
// root reads, so /etc/ssl/private (root:ssl-cert 0640 keys) must be masked,
// not left to file modes. The default user namespace must hide it too.
func TestPrivateKeyDirsMasked(t *testing.T) {
	root := newRoot(t)
	dir := testutil.PrivateKeyDir
	const secret = "NUCLEUS-TEST-PRIVATE-KEY"
	key := testutil.PlantPrivateKey(t, secret)
	script := "cat " + key + "; echo; echo listing:; ls -A " + dir
	for _, hostUserNS := range []bool{true, false} {
		svc := service("/bin/busybox", "sh", "-c", script)
		svc.Security.HostUserNS = hostUserNS
		r := run(t, Config{Root: root, Project: "p", Service: svc})
		_, listing, _ := strings.Cut(r.out, "listing:")
		if strings.Contains(r.out, secret) || strings.Contains(listing, filepath.Base(key)) {
			t.Errorf("host user namespace %v: the sandbox sees the private key directory:\n%s", hostUserNS, r.out)
		}
	}
	// Host root itself reads it: the test would notice a missing mask.
	if b, err := os.ReadFile(key); err != nil || string(b) != secret {
		t.Fatalf("host read of %s: %q, %v", key, b, err)
	}
}
