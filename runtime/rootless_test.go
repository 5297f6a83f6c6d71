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
	set := fakeSubIDFiles(t)
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

// TestRootlessIDsOldRecordMigrated: a subids.json written by the first
// rootless version (ranges as [start, count], testdata/subids-v1.json) is
// accepted when it records the range in use and rewritten in the current
// form; one recording another range is refused as changed, not as unreadable.
func TestRootlessIDsOldRecordMigrated(t *testing.T) {
	root := testutil.TempRoot(t)
	set := fakeSubIDFiles(t)
	fixture, err := os.ReadFile("testdata/subids-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	old := strings.NewReplacer("@USER@", "someone", "@UID@", strconv.Itoa(os.Getuid()), "@GID@", strconv.Itoa(os.Getgid())).Replace(string(fixture))
	if err := os.MkdirAll(root.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	writeOld := func() {
		if err := os.WriteFile(subIDsFile(root), []byte(old), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	set(100000) // the range the old record holds
	writeOld()
	m, err := rootlessIDs(root)
	if err != nil || m.Map.UIDs[1].Outside != 100000 || m.Map.Size() != IDRangeSize {
		t.Fatalf("old record of the range in use: %+v, %v; want it accepted", m, err)
	}
	b, _ := os.ReadFile(subIDsFile(root))
	if strings.Contains(string(b), "subuid") || !strings.Contains(string(b), `"map"`) {
		t.Errorf("record after use: %s; want it rewritten in the current form", b)
	}
	if _, err := rootlessIDs(root); err != nil {
		t.Errorf("migrated record, same range: %v", err)
	}

	set(200000) // /etc/subuid changed since the old version wrote its record
	writeOld()
	_, err = rootlessIDs(root)
	if err == nil || !strings.Contains(err.Error(), "changed") || !strings.Contains(err.Error(), "Outside:100000") {
		t.Fatalf("old record of another range: err %v, want the change refused naming the old range", err)
	}
	if b, _ := os.ReadFile(subIDsFile(root)); string(b) != old {
		t.Errorf("a refused old record was rewritten: %s", b)
	}
}

// fakeSubIDFiles points internal/subid at files of the test's own, restored
// at the end; set(start) gives the caller the range start:65536 in both.
func fakeSubIDFiles(t *testing.T) (set func(start int)) {
	dir := t.TempDir()
	u, g := subid.UIDFile, subid.GIDFile
	t.Cleanup(func() { subid.UIDFile, subid.GIDFile = u, g })
	subid.UIDFile, subid.GIDFile = filepath.Join(dir, "subuid"), filepath.Join(dir, "subgid")
	return func(start int) {
		line := []byte(strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(start) + ":65536\n")
		for _, f := range []string{subid.UIDFile, subid.GIDFile} {
			if err := os.WriteFile(f, line, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
