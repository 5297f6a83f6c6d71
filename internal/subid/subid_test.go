package subid

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSandbox(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	defer func(u, g string) { UIDFile, GIDFile = u, g }(UIDFile, GIDFile)
	for _, c := range []struct {
		name, uids, gids string
		want             Map
		err              string
	}{
		{name: "by uid, first range, one size for both",
			uids: "other:100000:65536\n4242:200000:65536\n4242:300000:65536\n", gids: "4242:400000:1000\n",
			want: Map{UIDs: []IDMap{{0, 4242, 1}, {1, 200000, 1000}}, GIDs: []IDMap{{0, 4343, 1}, {1, 400000, 1000}}}},
		{name: "at most 65535", uids: "4242:200000:200000\n", gids: "4242:400000:65536\n",
			want: Map{UIDs: []IDMap{{0, 4242, 1}, {1, 200000, 65535}}, GIDs: []IDMap{{0, 4343, 1}, {1, 400000, 65535}}}},
		{name: "none", uids: "other:100000:65536\n", gids: "4242:400000:65536\n",
			err: "has no subordinate id range in " + filepath.Join(dir, "none.uid") + ", which rootless sandboxes need: ask an administrator to run `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 4242`"},
		{name: "malformed", uids: "4242:x:65536\n", gids: "",
			err: filepath.Join(dir, "malformed.uid") + ":1: expected NAME:START:COUNT with numbers, got \"4242:x:65536\""},
	} {
		UIDFile, GIDFile = write(c.name+".uid", c.uids), write(c.name+".gid", c.gids)
		got, err := Sandbox(4242, 4343)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, %v; want %+v", c.name, got, err, c.want)
		}
		if got.Size() != 1+c.want.UIDs[1].Count {
			t.Errorf("%s: Size %d", c.name, got.Size())
		}
	}
}
