package unpack

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

// ent is one tar entry of a test layer; zero fields take tar's defaults.
type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
	xattrs           map[string]string
	major, minor     int64
}

var mtime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

func layer(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode,
			Uid: e.uid, Gid: e.gid, ModTime: mtime, Devmajor: e.major, Devminor: e.minor, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tree makes root next to a sentinel directory holding one file, and
// returns a check that fails the test when anything beside root changed.
func tree(t testing.TB) (root, sentinel string, check func()) {
	t.Helper()
	testutil.RequireRoot(t)
	parent := t.TempDir()
	root = filepath.Join(parent, "root")
	sentinel = filepath.Join(parent, "sentinel")
	testutil.WriteFile(t, filepath.Join(sentinel, "secret"), "keep")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root, sentinel, func() {
		t.Helper()
		names := listTree(t, parent)
		want := []string{"root", "sentinel", "sentinel/secret"}
		var outside []string
		for _, n := range names {
			if !strings.HasPrefix(n, "root/") {
				outside = append(outside, n)
			}
		}
		if strings.Join(outside, ",") != strings.Join(want, ",") {
			t.Fatalf("outside root: %v, want %v", outside, want)
		}
		if b, err := os.ReadFile(filepath.Join(sentinel, "secret")); err != nil || string(b) != "keep" {
			t.Fatalf("sentinel changed: %q %v", b, err)
		}
		if st := lstat(t, filepath.Join(sentinel, "secret")); st.Nlink != 1 || st.Mode != unix.S_IFREG|0o644 || st.Uid != 0 {
			t.Fatalf("sentinel changed: nlink %d mode %o uid %d, want 1, 100644, 0", st.Nlink, st.Mode, st.Uid)
		}
	}
}

// listTree lists every path below dir (slash-separated, sorted), never
// following a symlink.
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			r, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(r))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func apply(t testing.TB, root string, o Options, ents ...ent) error {
	t.Helper()
	return Apply(root, bytes.NewReader(layer(t, ents...)), o)
}

func mustApply(t testing.TB, root string, ents ...ent) {
	t.Helper()
	if err := apply(t, root, Options{Image: "test", Layer: "sha256:1"}, ents...); err != nil {
		t.Fatal(err)
	}
}

func lstat(t testing.TB, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func TestApplyEntries(t *testing.T) {
	root, _, check := tree(t)
	defer check()
	capV2 := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // cap_net_bind_service, effective
	mustApply(t, root,
		ent{name: "./", typ: tar.TypeDir, mode: 0o700}, // the root's mode is the caller's
		ent{name: "./etc/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "./etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		ent{name: "bin/su", body: "su", mode: 0o4755, uid: 0, gid: 0},
		ent{name: "bin/sg", body: "sg", mode: 0o2711, uid: 1000, gid: 50},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		ent{name: "home/app/", typ: tar.TypeDir, mode: 0o750, uid: 999, gid: 998},
		ent{name: "home/app/data", body: "x", uid: 999, gid: 998, xattrs: map[string]string{
			"user.origin": "image", "trusted.evil": "1", "security.selinux": "x"}},
		ent{name: "bin/ping", body: "ping", mode: 0o755, xattrs: map[string]string{"security.capability": capV2}},
		ent{name: "bin/sh", typ: tar.TypeSymlink, link: "/bin/busybox", uid: 7, gid: 8},
		ent{name: "bin/sh2", typ: tar.TypeLink, link: "./bin/su"},
		ent{name: "run/fifo", typ: tar.TypeFifo, mode: 0o620, uid: 5, gid: 6},
		ent{name: "dev/null", typ: tar.TypeChar, major: 1, minor: 3},
		ent{name: "dev/sda", typ: tar.TypeBlock, major: 8, minor: 0},
	)
	if st := lstat(t, root); st.Mode != unix.S_IFDIR|0o755 {
		t.Errorf("root: mode %o, want it left 0755", st.Mode)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); string(b) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("etc/passwd = %q", b)
	}
	for p, want := range map[string]uint32{
		"bin/su": unix.S_IFREG | 0o4755, "bin/sg": unix.S_IFREG | 0o2711, "tmp": unix.S_IFDIR | 0o1777,
		"home/app": unix.S_IFDIR | 0o750, "run/fifo": unix.S_IFIFO | 0o620, "etc": unix.S_IFDIR | 0o755,
	} {
		if st := lstat(t, filepath.Join(root, p)); st.Mode != want {
			t.Errorf("%s: mode %o, want %o", p, st.Mode, want)
		}
	}
	for p, want := range map[string][2]uint32{"bin/sg": {1000, 50}, "home/app": {999, 998},
		"home/app/data": {999, 998}, "bin/sh": {7, 8}, "run/fifo": {5, 6}} {
		if st := lstat(t, filepath.Join(root, p)); st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, want[0], want[1])
		}
	}
	if l, err := os.Readlink(filepath.Join(root, "bin/sh")); err != nil || l != "/bin/busybox" {
		t.Errorf("bin/sh -> %q %v, want the absolute target verbatim", l, err)
	}
	if a, b := lstat(t, filepath.Join(root, "bin/su")), lstat(t, filepath.Join(root, "bin/sh2")); a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("bin/sh2 is not a hardlink of bin/su (inodes %d %d, nlink %d)", a.Ino, b.Ino, a.Nlink)
	}
	xa := func(p, name string) string {
		buf := make([]byte, 256)
		n, err := unix.Lgetxattr(filepath.Join(root, p), name, buf)
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(buf[:n])
	}
	if v := xa("home/app/data", "user.origin"); v != "image" {
		t.Errorf("user.origin = %q", v)
	}
	if v := xa("bin/ping", "security.capability"); v != capV2 {
		t.Errorf("security.capability = %q, want it kept", v)
	}
	for _, n := range []string{"trusted.evil", "security.selinux"} {
		if v := xa("home/app/data", n); !strings.HasPrefix(v, "<") {
			t.Errorf("%s = %q, want it skipped", n, v)
		}
	}
	for _, p := range []string{"dev/null", "dev/sda"} {
		if testutil.FileExists(filepath.Join(root, p)) {
			t.Errorf("device %s was created, want it skipped", p)
		}
	}
	for _, p := range []string{"etc", "tmp", "home/app", "bin/su", "bin/sh"} {
		if st := lstat(t, filepath.Join(root, p)); st.Mtim.Sec != mtime.Unix() {
			t.Errorf("%s: mtime %d, want %d (directories after their contents)", p, st.Mtim.Sec, mtime.Unix())
		}
	}
}

func TestApplyRefusesEscapes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []ent // an earlier layer
		ents   []ent
		entry  string // the entry the error must name
		escape bool   // the error is ErrEscape
	}{
		{name: "absolute", ents: []ent{{name: "/etc/x", body: "x"}}, entry: "/etc/x", escape: true},
		{name: "dotdot", ents: []ent{{name: "../sentinel/secret", body: "x"}}, entry: "../sentinel/secret", escape: true},
		{name: "dotdot deep", ents: []ent{{name: "a/../../sentinel/x", body: "x"}}, entry: "a/../../sentinel/x", escape: true},
		{name: "symlink from earlier layer",
			before: []ent{{name: "link", typ: tar.TypeSymlink, link: "../sentinel"}},
			ents:   []ent{{name: "link/secret", body: "pwned"}}, entry: "link/secret", escape: true},
		{name: "absolute symlink from earlier layer",
			before: []ent{{name: "link", typ: tar.TypeSymlink, link: "@SENTINEL@"}},
			ents:   []ent{{name: "link/new", body: "pwned"}}, entry: "link/new", escape: true},
		{name: "symlink earlier in the same tar",
			ents:  []ent{{name: "d/link", typ: tar.TypeSymlink, link: "../../sentinel"}, {name: "d/link/new", body: "pwned"}},
			entry: "d/link/new", escape: true},
		{name: "symlink inside the tree still refused",
			ents: []ent{{name: "real/", typ: tar.TypeDir}, {name: "link", typ: tar.TypeSymlink, link: "real"},
				{name: "link/f", body: "x"}}, entry: "link/f", escape: true},
		{name: "hardlink dotdot", ents: []ent{{name: "h", typ: tar.TypeLink, link: "../sentinel/secret"}},
			entry: "h", escape: true},
		{name: "hardlink absolute", ents: []ent{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}},
			entry: "h", escape: true},
		{name: "hardlink through symlink",
			ents:  []ent{{name: "link", typ: tar.TypeSymlink, link: "../sentinel"}, {name: "h", typ: tar.TypeLink, link: "link/secret"}},
			entry: "h", escape: true},
		{name: "hardlink to a symlink",
			ents:  []ent{{name: "link", typ: tar.TypeSymlink, link: "../sentinel/secret"}, {name: "h", typ: tar.TypeLink, link: "link"}},
			entry: "h"},
		{name: "hardlink to a directory",
			ents: []ent{{name: "d/", typ: tar.TypeDir}, {name: "h", typ: tar.TypeLink, link: "d"}}, entry: "h"},
		{name: "file naming the root", ents: []ent{{name: "a/..", body: "x"}}, entry: "a/.."},
		{name: "hardlink to nothing", ents: []ent{{name: "h", typ: tar.TypeLink, link: "missing"}}, entry: "h"},
		{name: "whiteout through symlink",
			before: []ent{{name: "link", typ: tar.TypeSymlink, link: "../sentinel"}},
			ents:   []ent{{name: "link/.wh.secret", body: ""}}, entry: "link/.wh.secret", escape: true},
		{name: "opaque through symlink",
			before: []ent{{name: "link", typ: tar.TypeSymlink, link: "../sentinel"}},
			ents:   []ent{{name: "link/.wh..wh..opq", body: ""}}, entry: "link/.wh..wh..opq", escape: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, sentinel, check := tree(t)
			defer check()
			fix := func(es []ent) []ent {
				for i := range es {
					es[i].link = strings.ReplaceAll(es[i].link, "@SENTINEL@", sentinel)
				}
				return es
			}
			if tc.before != nil {
				mustApply(t, root, fix(tc.before)...)
			}
			err := apply(t, root, Options{Image: "docker.io/library/x:1", Layer: "sha256:ab12"}, fix(tc.ents)...)
			var ue *Error
			if !errors.As(err, &ue) {
				t.Fatalf("Apply = %v, want an *Error", err)
			}
			want := `image docker.io/library/x:1 layer sha256:ab12 entry "` + tc.entry + `": `
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want it to start with %q", err, want)
			}
			if tc.escape && !errors.Is(err, ErrEscape) {
				t.Errorf("error %q is not ErrEscape", err)
			}
		})
	}
}

func TestApplyWhiteouts(t *testing.T) {
	root, _, check := tree(t)
	defer check()
	mustApply(t, root,
		ent{name: "a/f", body: "1"}, ent{name: "a/g", body: "2"},
		ent{name: "d/x/y", body: "3"}, ent{name: "keep", body: "4"},
		ent{name: "w1", body: "5"}, ent{name: "w2", body: "6"})
	mustApply(t, root,
		ent{name: "a/.wh.f"}, ent{name: ".wh.d"}, ent{name: ".wh.missing"},
		ent{name: "w1", typ: tar.TypeChar}, // overlay-style 0/0 whiteout
		ent{name: "new", body: "7"}, ent{name: "w2", body: "again"}, ent{name: ".wh.w2"})
	got := strings.Join(listTree(t, root), ",")
	if want := "a,a/g,keep,new,w2"; got != want {
		t.Errorf("tree %s, want %s (whiteouts hide earlier layers only and never appear)", got, want)
	}
}

func TestApplyOpaque(t *testing.T) {
	for _, opqFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "marker first", false: "marker last"}[opqFirst], func(t *testing.T) {
			root, _, check := tree(t)
			defer check()
			mustApply(t, root, ent{name: "d/old", body: "1"}, ent{name: "d/sub/old", body: "2"},
				ent{name: "d/gone/x", body: "3"}, ent{name: "other", body: "4"})
			ents := []ent{{name: "d/new", body: "5"}, {name: "d/sub/", typ: tar.TypeDir, mode: 0o755},
				{name: "d/sub/new", body: "6"}, {name: "d/implicit/f", body: "7"}}
			opq := ent{name: "d/.wh..wh..opq"}
			if opqFirst {
				ents = append([]ent{opq}, ents...)
			} else {
				ents = append(ents, opq)
			}
			mustApply(t, root, ents...)
			got := strings.Join(listTree(t, root), ",")
			if want := "d,d/implicit,d/implicit/f,d/new,d/sub,d/sub/new,other"; got != want {
				t.Errorf("tree %s, want %s", got, want)
			}
		})
	}
}

func TestApplyReplaces(t *testing.T) {
	root, _, check := tree(t)
	defer check()
	mustApply(t, root,
		ent{name: "f", body: "old"}, ent{name: "f2", typ: tar.TypeLink, link: "f"},
		ent{name: "dir/x", body: "x"}, ent{name: "s", typ: tar.TypeSymlink, link: "nowhere"},
		ent{name: "m/", typ: tar.TypeDir, mode: 0o755}, ent{name: "m/a", body: "a"},
		ent{name: "out", typ: tar.TypeSymlink, link: "../sentinel/secret"},
		ent{name: "out2", typ: tar.TypeSymlink, link: "../sentinel/secret"},
		ent{name: "out3", typ: tar.TypeSymlink, link: "../sentinel"})
	mustApply(t, root,
		ent{name: "out", body: "replaces the symlink, never writes through it", mode: 0o666},
		ent{name: "out2", typ: tar.TypeLink, link: "f2"},
		ent{name: "out3", typ: tar.TypeFifo},
		ent{name: "f", body: "new"}, // must not write through the hardlink f2
		ent{name: "dir", body: "now a file"},
		ent{name: "s/", typ: tar.TypeDir, mode: 0o711},
		ent{name: "m/", typ: tar.TypeDir, mode: 0o700}, ent{name: "m/b", body: "b"})
	for p, want := range map[string]string{"f": "new", "f2": "old", "dir": "now a file", "m/a": "a", "m/b": "b",
		"out": "replaces the symlink, never writes through it", "out2": "old"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q %v, want %q", p, b, err, want)
		}
	}
	if st := lstat(t, filepath.Join(root, "s")); st.Mode != unix.S_IFDIR|0o711 {
		t.Errorf("s: mode %o, want a directory 0711", st.Mode)
	}
	if st := lstat(t, filepath.Join(root, "m")); st.Mode != unix.S_IFDIR|0o700 {
		t.Errorf("m: mode %o, want the merged directory with the new mode 0700", st.Mode)
	}
}

func TestApplyBounds(t *testing.T) {
	root, _, check := tree(t)
	defer check()
	bomb := ent{name: "big", body: strings.Repeat("\x00", 3<<20)}
	err := apply(t, root, Options{Image: "i", Layer: "sha256:b", MaxBytes: 1 << 20}, ent{name: "small", body: "x"}, bomb)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "Options.MaxBytes") || !strings.Contains(err.Error(), `entry "big"`) {
		t.Errorf("bomb: %v, want ErrLimit naming MaxBytes and the entry", err)
	}
	if st, err := os.Stat(filepath.Join(root, "big")); err == nil && st.Size() > 1<<20+1<<20 {
		t.Errorf("bomb wrote %d bytes past the bound", st.Size())
	}
	many := make([]ent, 11)
	for i := range many {
		many[i] = ent{name: "n/" + strings.Repeat("x", i+1), body: ""}
	}
	err = apply(t, root, Options{MaxEntries: 10}, many...)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "Options.MaxEntries") {
		t.Errorf("entries: %v, want ErrLimit naming MaxEntries", err)
	}
	long := strings.Repeat("a/", MaxPathLen/2+1)
	if err := apply(t, root, Options{}, ent{name: long + "f", body: "x"}); !errors.Is(err, ErrLimit) {
		t.Errorf("long name: %v, want ErrLimit", err)
	}
	if err := apply(t, root, Options{}, ent{name: "ok", body: strings.Repeat("y", 2<<20)}); err != nil {
		t.Errorf("a 2 MiB file under the default bound: %v", err)
	}
}
