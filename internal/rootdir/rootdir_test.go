package rootdir

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestForUserIgnoresUnsetAndRelativeDirs: an ordinary user's root is
// absolute whatever the environment holds. With HOME unset (su, cron,
// env -i) the data root was ".local/share/nucleus", under the directory
// nucleus was run in; relative XDG values are ignored as the XDG spec says.
func TestForUserIgnoresUnsetAndRelativeDirs(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(me.Uid)
	tmp := filepath.Join(os.TempDir(), "nucleus-"+me.Uid)
	for _, c := range []struct {
		name string
		env  map[string]string
		want Root
	}{
		{"XDG dirs", map[string]string{"XDG_RUNTIME_DIR": "/run/user/7", "XDG_DATA_HOME": "/d", "HOME": "/h"},
			Root{Run: "/run/user/7/nucleus", Data: "/d/nucleus"}},
		{"HOME only", map[string]string{"HOME": "/h"}, Root{Run: tmp, Data: "/h/.local/share/nucleus"}},
		{"nothing set", nil, Root{Run: tmp, Data: filepath.Join(me.HomeDir, ".local/share/nucleus")}},
		{"relative values", map[string]string{"XDG_RUNTIME_DIR": "run", "XDG_DATA_HOME": "data", "HOME": "h"},
			Root{Run: tmp, Data: filepath.Join(me.HomeDir, ".local/share/nucleus")}},
	} {
		got := forUser(uid, func(k string) string { return c.env[k] })
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestMakePrivateErrorSaysWhatToSet: a state directory that cannot be made
// is named, with the variables and flags that choose another.
func TestMakePrivateErrorSaysWhatToSet(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := Root{Run: filepath.Join(f, "run"), Data: filepath.Join(f, "data")}
	err := r.MakePrivate()
	if err == nil || !strings.Contains(err.Error(), "state directory "+r.Run+": ") ||
		!strings.Contains(err.Error(), "XDG_DATA_HOME") || !strings.Contains(err.Error(), "--root") {
		t.Errorf("MakePrivate under a file: got %v, want the directory named and XDG_DATA_HOME, --root suggested", err)
	}
}
