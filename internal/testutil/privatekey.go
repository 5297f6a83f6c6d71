package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// PrivateKeyDir is where Debian keeps TLS private keys (root:ssl-cert).
const PrivateKeyDir = "/etc/ssl/private"

// PlantPrivateKey writes a key file holding content into PrivateKeyDir
// (made if the host has none, as the cgroup v2 VM), for tests that check a
// sandbox cannot read it; the file, and a directory it made, go at cleanup.
func PlantPrivateKey(t testing.TB, content string) string {
	t.Helper()
	if _, err := os.Stat(PrivateKeyDir); os.IsNotExist(err) {
		if err := os.MkdirAll(filepath.Dir(PrivateKeyDir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(PrivateKeyDir, 0o710); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(PrivateKeyDir) })
	}
	f, err := os.CreateTemp(PrivateKeyDir, "nucleus-test-*.key")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o640)
	}
	if err != nil {
		t.Fatal(err)
	}
	return f.Name()
}
