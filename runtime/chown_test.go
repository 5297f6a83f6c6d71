package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"nucleus/internal/testutil"
)

// hostOwner is the owner and permission bits of p on the host.
func hostOwner(t *testing.T, p string) (uid, gid, perm uint32) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid, st.Gid, st.Mode & 0o7777
}

// TestVolumeChownToServiceUser (issue 11, defect 5): a non-root service on
// a fresh named volume with :U (or chown: true) can create files and chmod
// 700 the volume root, as initdb does; on the host the volume belongs to
// the service's uid:gid mapped through the project's range.
func TestVolumeChownToServiceUser(t *testing.T) {
	root := newRoot(t)
	// volumes: ["pg:/pg:U", {type: volume, source: pg2, target: /pg2, chown: true}]
	// (host.SandboxConfig's test checks that both forms become Chown).
	svc := service("/bin/busybox", "sh", "-c", "for d in /pg /pg2; do touch $d/f && chmod 700 $d && stat -c '%u:%g %a' $d $d/f; done")
	svc.Process.User = "1234:2345"
	svc.Volumes = []Volume{{Type: MountVolume, Source: "pg", Target: "/pg", Chown: true}, {Type: MountVolume, Source: "pg2", Target: "/pg2", Chown: true}}
	mounts, err := ResolveMounts(Config{Root: root, Project: "p", Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts})
	if want := strings.Repeat("1234:2345 700\n1234:2345 644\n", 2); r.st.Code != 0 || r.out != want {
		t.Fatalf("user 1234:2345 on fresh :U named volumes: exit %d, out %q, want %q (stderr %q)", r.st.Code, r.out, want, r.err)
	}
	base, err := ProjectIDRange(root, "p")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pg", "pg2"} {
		if uid, gid, perm := hostOwner(t, VolumeDir(root, "p", name)); uid != base+1234 || gid != base+2345 || perm != 0o700 {
			t.Errorf("volume %s on the host: %d:%d %o, want %d:%d 700", name, uid, gid, perm, base+1234, base+2345)
		}
	}
}

// TestVolumeChownUserByName: user: NAME is resolved as the init resolves
// it, in the sandbox's /etc/passwd: the rootfs's (a bind :U source with
// host root's files becomes the rootfs user's), or the host's under the
// default root; under userns: host the ids are the host's own.
func TestVolumeChownUserByName(t *testing.T) {
	root := newRoot(t)
	base, err := ProjectIDRange(root, "p")
	if err != nil {
		t.Fatal(err)
	}
	rootfs := testutil.BusyboxRootfs(t) // app = 1000:1000
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	svc := service("/bin/sh", "-c", "touch /data/sub/f && chmod 700 /data && id -u")
	svc.Rootfs, svc.Process.User = rootfs, "app"
	r := run(t, Config{Root: root, Project: "p", Service: svc,
		Mounts: []ResolvedMount{{Type: MountBind, Source: src, Target: "/data", Chown: true}}})
	if r.st.Code != 0 || r.out != "1000\n" {
		t.Errorf("user app of the rootfs on a :U bind: exit %d out %q err %q", r.st.Code, r.out, r.err)
	}
	for _, p := range []string{src, filepath.Join(src, "sub"), filepath.Join(src, "sub", "f")} {
		if uid, gid, _ := hostOwner(t, p); uid != base+1000 || gid != base+1000 {
			t.Errorf("%s: %d:%d, want %d:%d", p, uid, gid, base+1000, base+1000)
		}
	}

	// The host's nobody (65534:65534 in Debian's /etc/passwd).
	svc = service("/bin/busybox", "sh", "-c", "touch /v/f && chmod 700 /v && id -u")
	svc.Process.User = "nobody"
	svc.Volumes = []Volume{{Type: MountVolume, Source: "nb", Target: "/v", Chown: true}}
	mounts, err := ResolveMounts(Config{Root: root, Project: "p", Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	if r := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts}); r.st.Code != 0 || r.out != "65534\n" {
		t.Errorf("user nobody on a :U volume: exit %d out %q err %q", r.st.Code, r.out, r.err)
	}
	if uid, gid, _ := hostOwner(t, VolumeDir(root, "p", "nb")); uid != base+65534 || gid != base+65534 {
		t.Errorf("volume of nobody: %d:%d, want %d:%d", uid, gid, base+65534, base+65534)
	}

	// A passwd file bound over the host's: resolved where the init will.
	passwd := filepath.Join(t.TempDir(), "passwd")
	testutil.WriteFile(t, passwd, "root:x:0:0::/root:/bin/sh\ndbuser:x:4321:4322::/:/bin/sh\n")
	svc = service("/bin/busybox", "sh", "-c", "touch /v/f && chmod 700 /v && id -u")
	svc.Process.User = "dbuser"
	svc.Volumes = []Volume{{Type: MountVolume, Source: "bound", Target: "/v", Chown: true}}
	if mounts, err = ResolveMounts(Config{Root: root, Project: "p", Service: svc}); err != nil {
		t.Fatal(err)
	}
	mounts = append(mounts, ResolvedMount{Type: MountBind, Source: passwd, Target: "/etc/passwd", ReadOnly: true})
	if r := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts}); r.st.Code != 0 || r.out != "4321\n" {
		t.Errorf("user of a bound /etc/passwd on a :U volume: exit %d out %q err %q", r.st.Code, r.out, r.err)
	}
	if uid, gid, _ := hostOwner(t, VolumeDir(root, "p", "bound")); uid != base+4321 || gid != base+4322 {
		t.Errorf("volume of a bound passwd's user: %d:%d, want %d:%d", uid, gid, base+4321, base+4322)
	}

	svc = service("/bin/busybox", "sh", "-c", "touch /v/f && chmod 700 /v")
	svc.Process.User, svc.Security.HostUserNS = "1234:2345", true
	svc.Volumes = []Volume{{Type: MountVolume, Source: "hostns", Target: "/v", Chown: true}}
	if mounts, err = ResolveMounts(Config{Root: root, Project: "p", Service: svc}); err != nil {
		t.Fatal(err)
	}
	if r := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts}); r.st.Code != 0 {
		t.Errorf("userns: host, user 1234:2345 on a :U volume: exit %d err %q", r.st.Code, r.err)
	}
	if uid, gid, perm := hostOwner(t, VolumeDir(root, "p", "hostns")); uid != 1234 || gid != 2345 || perm != 0o700 {
		t.Errorf("volume under userns: host: %d:%d %o, want 1234:2345 700", uid, gid, perm)
	}
}

// TestVolumeChownUnknownUser: a :U volume whose user cannot be resolved or
// mapped fails the start, naming the volume and the user; nothing changes.
func TestVolumeChownUnknownUser(t *testing.T) {
	root := newRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	for user, want := range map[string]string{
		"postgres": `volume /v: ` + "%s" + `: chown (:U) to user "postgres": user "postgres": no such user in the sandbox's /etc/passwd`,
		"70000":    `chown (:U) to user "70000": 70000:70000 is outside the sandbox's ids 0-65535`,
	} {
		src := t.TempDir()
		svc := service("/bin/sh", "-c", "true")
		svc.Rootfs, svc.Process.User = rootfs, user
		sb, err := Create(t.Context(), Config{ID: "unknown", Root: root, Project: "p", Service: svc, Stdout: os.Stderr,
			Mounts: []ResolvedMount{{Type: MountBind, Source: src, Target: "/v", Chown: true}}})
		if err == nil {
			sb.Remove(t.Context())
		}
		if want = strings.ReplaceAll(want, "%s", src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("user %s: err %v, want %q", user, err, want)
		}
		if uid, _, _ := hostOwner(t, src); uid != 0 {
			t.Errorf("user %s: the source changed owner to %d", user, uid)
		}
	}
	// The rootfs's /etc/passwd is read inside the rootfs: a symlink that
	// climbs out reaches no host file (nor would it for the init).
	outside := filepath.Join(t.TempDir(), "passwd")
	testutil.WriteFile(t, outside, "esc:x:555:555::/:/bin/sh\n")
	if err := os.Remove(filepath.Join(rootfs, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../../.."+outside, filepath.Join(rootfs, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	svc := service("/bin/sh", "-c", "true")
	svc.Rootfs, svc.Process.User = rootfs, "esc"
	sb, err := Create(t.Context(), Config{ID: "escape", Root: root, Project: "p", Service: svc, Stdout: os.Stderr,
		Mounts: []ResolvedMount{{Type: MountBind, Source: t.TempDir(), Target: "/v", Chown: true}}})
	if err == nil {
		sb.Remove(t.Context())
	}
	if want := `chown (:U) to user "esc": user "esc": no such user`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("rootfs /etc/passwd climbing out: err %v, want %q", err, want)
	}
}

// TestInitdbOnChownedVolume: PostgreSQL's initdb as user: postgres on a
// fresh named volume with :U (the report of issue 11, defect 5: "could not
// change permissions of directory").
func TestInitdbOnChownedVolume(t *testing.T) {
	const initdb = "/usr/lib/postgresql/15/bin/initdb"
	_, err := os.Stat(initdb)
	testutil.Require(t, err == nil, "postgresql-15 ("+initdb+")")
	root := newRoot(t)
	svc := service(initdb, "-D", "/var/lib/pg", "-U", "postgres", "--auth=trust", "--no-sync")
	svc.Process.User = "postgres"
	svc.Volumes = []Volume{{Type: MountVolume, Source: "pgdata", Target: "/var/lib/pg", Chown: true}} // "pgdata:/var/lib/pg:U"
	mounts, err := ResolveMounts(Config{Root: root, Project: "p", Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts})
	if r.st.Code != 0 || !strings.Contains(r.out, "Success") {
		t.Fatalf("initdb as postgres on a :U volume: exit %d\nout %s\nerr %s", r.st.Code, r.out, r.err)
	}
	if _, err := os.Stat(filepath.Join(VolumeDir(root, "p", "pgdata"), "PG_VERSION")); err != nil {
		t.Errorf("no cluster in the volume: %v", err)
	}
}
