package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/image/imagebuild"
	"nucleus/image/imagetest"
	"nucleus/internal/testutil"
)

// TestRootlessPullUnpacksWithImageOwners: an ordinary user's pull unpacks
// into its data dir inside its sandboxes' user namespace, so a file the
// image gives to 999 is owned on the host by the user's subordinate id
// that such a sandbox maps back to 999 (subuid start + 998), image root's
// by the user; prune -a as the user removes the tree, and nothing of the
// user is left outside its XDG dirs.
func TestRootlessPullUnpacksWithImageOwners(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	env := testutil.NewUserEnv(t, u)
	reg := imagetest.Registry(t)
	appRef := reg.Push(t, "app:1", appImage(t, "rootless"))
	yaml := "name: rl-img\nservices:\n  app:\n    image: " + appRef + "\n    command: [\"true\"]\n"
	if err := os.WriteFile(filepath.Join(env.Home, "nucleus.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(env.Home, "nucleus.yaml"), u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	if r := env.Run(t, nucleusBin, "pull"); r.Code != 0 {
		t.Fatalf("pull as %s:\n%s", u.Name, r)
	}
	trees, _ := filepath.Glob(filepath.Join(env.Root.Data, "images", "trees", "*"))
	if len(trees) != 1 {
		t.Fatalf("trees after pull as %s = %v, want one under %s", u.Name, trees, env.Root.Data)
	}
	tree := trees[0]
	for _, c := range []struct {
		path     string
		uid, gid int
	}{
		{"home/app/own", u.SubUID[0] + imagebuild.AppUID - 1, u.SubGID[0] + imagebuild.AppGID - 1},
		{"home/app", u.SubUID[0] + imagebuild.AppUID - 1, u.SubGID[0] + imagebuild.AppGID - 1},
		{"etc/motd", u.UID, u.GID},
		{"bin/busybox", u.UID, u.GID},
	} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(tree, c.path), &st); err != nil {
			t.Errorf("/%s of the tree: %v", c.path, err)
			continue
		}
		if int(st.Uid) != c.uid || int(st.Gid) != c.gid {
			t.Errorf("/%s of the tree is owned by %d:%d on the host, want %d:%d (what the user's sandboxes map back to the image's owner)", c.path, st.Uid, st.Gid, c.uid, c.gid)
		}
	}
	if r := env.Run(t, nucleusBin, "image", "prune", "-a", "-f"); r.Code != 0 {
		t.Fatalf("image prune -a -f as %s:\n%s", u.Name, r)
	}
	if left, _ := filepath.Glob(filepath.Join(env.Root.Data, "images", "trees", "*")); len(left) != 0 {
		t.Errorf("trees left after prune -a as %s: %v", u.Name, left)
	}
	if left := env.FilesOutside("/var/lib/nucleus*", "/run/nucleus*", "/tmp/nucleus-[0-9]*", "/run/lock/*"); len(left) != 0 {
		t.Errorf("files of %s outside its XDG dirs:\n%s", u.Name, strings.Join(left, "\n"))
	}
}

// TestRootlessPullWithoutSubordinateRange: a user without a subordinate
// range cannot unpack image owners; pull says which file lacks it and the
// command that fixes it, and leaves no tree.
func TestRootlessPullWithoutSubordinateRange(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserNoRange)
	env := testutil.NewUserEnv(t, u)
	reg := imagetest.Registry(t)
	appRef := reg.Push(t, "app:1", appImage(t, "norange"))
	p := filepath.Join(env.Home, "nucleus.yaml")
	if err := os.WriteFile(p, []byte("name: rl-none\nservices:\n  app:\n    image: "+appRef+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	r := env.Run(t, nucleusBin, "pull")
	if r.Code == 0 || !strings.Contains(r.Stderr, "/etc/subuid") || !strings.Contains(r.Stderr, "usermod --add-subuids") {
		t.Errorf("pull as %s (no subordinate range) = %s\nwant a failure naming /etc/subuid and usermod --add-subuids", u.Name, r)
	}
	if left, _ := filepath.Glob(filepath.Join(env.Root.Data, "images", "trees", "*")); len(left) != 0 {
		t.Errorf("trees left after a failed unpack: %v", left)
	}
}

// TestRootlessRunImageKeepsImageOwners: run --image as an ordinary user
// runs the image's user 999 as 999, sees a file the image gives to 999 as
// 999's, and (read_only false) writes to its layer; the tree is not copied
// (no shifted copy) and nothing is left but the store.
func TestRootlessRunImageKeepsImageOwners(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	env := testutil.NewUserEnv(t, u)
	reg := imagetest.Registry(t)
	appRef := reg.Push(t, "app:1", appImage(t, "rootless"))
	for _, ro := range []string{"true", "false"} {
		r := env.Run(t, nucleusBin, "run", "--read-only="+ro, "--image", appRef, "--",
			"sh", "-c", "echo uid=$(id -u) own=$(stat -c %u:%g /home/app/own) root=$(stat -c %u /bin/busybox) $(cat own); echo w > /tmp/w && cat /tmp/w")
		want := "uid=999 own=999:999 root=0 mine\nw\n"
		if r.Code != 0 || r.Stdout != want {
			t.Errorf("run --read-only=%s --image as %s:\n%s\nwant stdout %q", ro, u.Name, r, want)
		}
	}
	if shifted, _ := filepath.Glob(filepath.Join(env.Root.Data, "images", "trees", "*.shift-*")); len(shifted) != 0 {
		t.Errorf("shifted copies made for a rootless run: %v", shifted)
	}
	if r := env.Run(t, nucleusBin, "image", "prune", "-a", "-f"); r.Code != 0 {
		t.Fatalf("image prune -a -f as %s:\n%s", u.Name, r)
	}
	if left, _ := filepath.Glob(filepath.Join(env.Root.Data, "images", "trees", "*")); len(left) != 0 {
		t.Errorf("trees left after prune -a as %s: %v", u.Name, left)
	}
	if left := env.FilesOutside("/var/lib/nucleus*", "/run/nucleus*", "/tmp/nucleus-[0-9]*"); len(left) != 0 {
		t.Errorf("files of %s outside its XDG dirs:\n%s", u.Name, strings.Join(left, "\n"))
	}
}

// TestRootlessUpImageService: up of an image service as an ordinary user
// runs the image's user 999 as 999 with the image's owners, writes to the
// replica's writable layer as 999, and down removes that layer (files of
// the user's subordinate ids) and the sandbox; prune -a then empties the
// store and nothing of the user is left outside its XDG dirs.
func TestRootlessUpImageService(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	env := testutil.NewUserEnv(t, u)
	reg := imagetest.Registry(t)
	appRef := reg.Push(t, "app:1", appImage(t, "rootless"))
	yaml := `name: rl-up
services:
  app:
    image: ` + appRef + `
    read_only: false
    networks: []
    stop_grace_period: 1s
    command: ["sh", "-c", "echo w > /home/app/w; echo uid=$(id -u) own=$(stat -c %u:%g own) w=$(stat -c %u w) root=$(stat -c %u /bin/busybox); trap 'exit 0' TERM; while true; do sleep 0.2; done"]
`
	env.WriteProject(t, yaml)
	if r := env.Run(t, nucleusBin, "up", "-d", "--wait-timeout", "30s"); r.Code != 0 {
		t.Fatalf("up as %s:\n%s", u.Name, r)
	}
	want := "uid=999 own=999:999 w=999 root=0"
	var last testutil.Result
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if last = env.Run(t, nucleusBin, "logs", "app"); strings.Contains(last.Stdout, want) {
			break
		}
		if time.Now().After(end) {
			ps := env.Run(t, nucleusBin, "ps")
			env.Run(t, nucleusBin, "down", "--timeout", "5s")
			t.Fatalf("logs app as %s never held %q within 10s; last:\n%s\nps:\n%s", u.Name, want, last, ps)
		}
	}
	uppers, _ := filepath.Glob(filepath.Join(env.Root.Data, "projects", "rl-up", "upper", "*", "upper", "home", "app", "w"))
	var st unix.Stat_t
	if len(uppers) != 1 || unix.Lstat(uppers[0], &st) != nil || int(st.Uid) != u.SubUID[0]+imagebuild.AppUID-1 {
		t.Errorf("writable layer's /home/app/w = %v (uid %d), want one owned by %d", uppers, st.Uid, u.SubUID[0]+imagebuild.AppUID-1)
	}
	if r := env.Run(t, nucleusBin, "down", "--timeout", "5s"); r.Code != 0 {
		t.Fatalf("down as %s:\n%s", u.Name, r)
	}
	if _, err := os.Stat(filepath.Join(env.Root.Data, "projects", "rl-up", "upper")); !os.IsNotExist(err) {
		t.Errorf("writable layers after down as %s: %v, want none", u.Name, err)
	}
	if r := env.Run(t, nucleusBin, "image", "prune", "-a", "-f"); r.Code != 0 {
		t.Fatalf("image prune -a -f as %s:\n%s", u.Name, r)
	}
	if left, _ := filepath.Glob(filepath.Join(env.Root.Data, "images", "trees", "*")); len(left) != 0 {
		t.Errorf("trees left after down and prune -a as %s: %v", u.Name, left)
	}
	if left := env.FilesOutside("/var/lib/nucleus*", "/run/nucleus*", "/tmp/nucleus-[0-9]*"); len(left) != 0 {
		t.Errorf("files of %s outside its XDG dirs:\n%s", u.Name, strings.Join(left, "\n"))
	}
}
