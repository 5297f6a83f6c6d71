package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"nucleus/internal/subid"
	"nucleus/internal/testutil"
)

// TestRootlessIDsRecordedAndChangeRefused: the range a user's sandboxes
// use is recorded in its data root; a later /etc/subuid giving another
// range is refused (named volumes belong to the old ids) until the record
// is removed.
func TestRootlessIDsRecordedAndChangeRefused(t *testing.T) {
	root := testutil.TempRoot(t)
	dir := t.TempDir()
	defer func(u, g string) { subid.UIDFile, subid.GIDFile = u, g }(subid.UIDFile, subid.GIDFile)
	subid.UIDFile, subid.GIDFile = filepath.Join(dir, "subuid"), filepath.Join(dir, "subgid")
	set := func(start int) {
		line := []byte(strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(start) + ":65536\n")
		for _, f := range []string{subid.UIDFile, subid.GIDFile} {
			if err := os.WriteFile(f, line, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	set(100000)
	m, err := rootlessIDs(root)
	if err != nil || m.Map.UIDs[1].Outside != 100000 || m.Map.Size() != IDRangeSize {
		t.Fatalf("first use: %+v, %v", m, err)
	}
	if fi, err := os.Stat(subIDsFile(root)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record %s: %v", subIDsFile(root), err)
	}
	if _, err := rootlessIDs(root); err != nil {
		t.Fatalf("same range again: %v", err)
	}
	set(200000)
	_, err = rootlessIDs(root)
	if err == nil || !strings.Contains(err.Error(), "changed") || !strings.Contains(err.Error(), subIDsFile(root)) {
		t.Fatalf("changed range: err %v, want one naming %s", err, subIDsFile(root))
	}
	if err := os.Remove(subIDsFile(root)); err != nil {
		t.Fatal(err)
	}
	if m, err := rootlessIDs(root); err != nil || m.Map.UIDs[1].Outside != 200000 {
		t.Fatalf("after removing the record: %+v, %v", m, err)
	}
}
