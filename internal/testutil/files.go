package testutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// WriteFile writes content to p, creating its parent directories.
func WriteFile(t testing.TB, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteFiles writes files (slash-separated name below dir -> content) and
// returns dir.
func WriteFiles(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		WriteFile(t, filepath.Join(dir, name), content)
	}
	return dir
}

// TreeSnapshot lists every entry below dir (path, type and mode, inode,
// size, modification time), one a line, so two snapshots differ when
// anything in the tree was created, removed or changed.
func TreeSnapshot(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %o ino=%d size=%d mtime=%d.%09d\n", rel, st.Mode, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return b.String()
}

// TreeChanges lists the lines of two TreeSnapshots that differ ("-" only
// before, "+" only after), or "" when they are the same.
func TreeChanges(before, after string) string {
	was, is := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(before, "\n") {
		was[l] = true
	}
	for _, l := range strings.Split(after, "\n") {
		is[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(before, "\n") {
		if !is[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(after, "\n") {
		if !was[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
