package testutil

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The helpers every rootless test stands on: the users exist with disjoint
// ranges (UserNoRange with none), a command runs with the user's ids and
// environment, and a process left from the environment is reported.
func TestRootlessUserEnv(t *testing.T) {
	a, b := RootlessUser(t, UserA), RootlessUser(t, UserB)
	none := RootlessUser(t, UserNoRange)
	if a.UID == 0 || a.UID == b.UID || none.UID == a.UID {
		t.Fatalf("uids: a %d b %d none %d", a.UID, b.UID, none.UID)
	}
	if none.SubUID != [2]int{} || none.SubGID != [2]int{} {
		t.Errorf("%s has ranges %v %v", UserNoRange, none.SubUID, none.SubGID)
	}
	_, all := subRanges("/etc/subuid", "", "")
	for _, u := range []TestUser{a, b} {
		if u.SubUID[1] != SubIDCount || u.SubGID[1] != SubIDCount {
			t.Errorf("%s ranges %v %v, want %d ids", u.Name, u.SubUID, u.SubGID, SubIDCount)
		}
		n := 0
		for _, r := range all {
			if r[0] < u.SubUID[0]+u.SubUID[1] && u.SubUID[0] < r[0]+r[1] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s's subuid range %v overlaps %d other entries of /etc/subuid", u.Name, u.SubUID, n-1)
		}
	}
	if again := RootlessUser(t, UserA); again != a {
		t.Errorf("second call gave %+v, first %+v", again, a)
	}

	e := NewUserEnv(t, a)
	if fi, err := os.Stat(e.Runtime); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("runtime dir %s: %v %v", e.Runtime, fi.Mode(), err)
	}
	r := e.Run(t, "/bin/sh", "-c", "id -u; id -g; echo $XDG_RUNTIME_DIR; touch $XDG_DATA_HOME/x; exit 3")
	want := strconv.Itoa(a.UID) + "\n" + strconv.Itoa(a.GID) + "\n" + e.Runtime + "\n"
	if r.Code != 3 || r.Stdout != want {
		t.Fatalf("got %s\nwant exit 3 and stdout %q", r, want)
	}

	// A process left from the environment is found (and killed by cleanup).
	cmd := e.Command("/bin/sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for len(e.Processes()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if left := e.Processes(); len(left) != 1 || !strings.Contains(left[0], "sleep 60") {
		t.Errorf("Processes = %q, want the sleep", left)
	}
	e.killLeft()
	_ = cmd.Wait()
	if left := e.Processes(); len(left) != 0 {
		t.Errorf("after kill: %q", left)
	}
	if f := e.FilesOutside("/var/lib/nucleus*", "/run/nucleus*"); len(f) != 0 {
		t.Errorf("outside: %q", f)
	}
}
