package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

// Write and WriteVolatile replace an existing file (mode included) with
// the new content, again and again, and leave no temporary beside it.
func TestWriteReplacesAndLeavesNoTemporaries(t *testing.T) {
	for name, write := range map[string]func(string, []byte, os.FileMode) error{"Write": Write, "WriteVolatile": WriteVolatile} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "record.json")
			testutil.WriteFile(t, p, "old")
			for _, content := range []string{"first", "second"} {
				if err := write(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				if b, err := os.ReadFile(p); err != nil || string(b) != content {
					t.Fatalf("content = %q, %v; want %q", b, err, content)
				}
			}
			if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
				t.Errorf("mode = %v, want 0600", st.Mode().Perm())
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("directory holds %d entries, want only record.json", len(ents))
			}
		})
	}
}

func TestWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := Write(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory in the way makes the rename fail after the temp file exists.
	q := filepath.Join(dir, "d")
	if err := os.Mkdir(q, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(q, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(q, []byte("new"), 0o600); err == nil {
		t.Fatal("replacing a non-empty directory succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("temporary left behind: %d entries", len(ents))
	}
}

// TestWriteOnFullDisk: out of space, the error names the file asked for and
// the reason, the old content stays and no temporary is left.
func TestWriteOnFullDisk(t *testing.T) {
	testutil.RequireRoot(t)
	fs := testutil.MountSmallFS(t, filepath.Join(t.TempDir(), "small"), 64<<10)
	p := filepath.Join(fs.Dir, "record.json")
	if err := Write(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs.Fill(t)
	for _, w := range []func(string, []byte, os.FileMode) error{Write, WriteVolatile} {
		err := w(p, make([]byte, 64<<10), 0o600)
		if !errors.Is(err, unix.ENOSPC) || err.Error() != "write "+p+": no space left on device" {
			t.Errorf("write on a full disk: %v; want %q", err, "write "+p+": no space left on device")
		}
		if b, _ := os.ReadFile(p); string(b) != "old" {
			t.Errorf("content after a failed write = %q, want old", b)
		}
	}
	fs.Free(t)
	if ents, _ := os.ReadDir(fs.Dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only record.json", len(ents))
	}
}
