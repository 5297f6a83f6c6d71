package security

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// End-to-end attempts for the findings of issue 9 that have been fixed,
// made as a user (or a tenant) would, through the nucleus binary. Each
// fix has its own regression test in its package; these check the whole
// path.

// TestFindingSetuidPlantedInVolume (finding 2): a sandbox copies a binary
// into a writable bind volume and sets the setuid and setgid bits; on the
// host no file in the volume may be setuid/setgid to a real host user (an
// id below the sandbox ranges, 2^30) and none may be a device.
func TestFindingSetuidPlantedInVolume(t *testing.T) {
	e := newEnv(t)
	vol := t.TempDir()
	if err := os.Chmod(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	got := e.probe(nil, []string{"-v", vol + ":/vol"}, "copy=copy_setuid,/bin/busybox,/vol/bb", "mknod,/vol/null")
	t.Logf("report: %v", got)
	filepath.Walk(vol, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&os.ModeSetuid != 0 && st.Uid < 1<<30 || fi.Mode()&os.ModeSetgid != 0 && st.Gid < 1<<30 {
			t.Errorf("ESCAPE: %s is %s owned by host %d:%d", p, fi.Mode(), st.Uid, st.Gid)
		}
		if fi.Mode()&(os.ModeDevice|os.ModeCharDevice) != 0 {
			t.Errorf("ESCAPE: device node %s planted on the host", p)
		}
		return nil
	})
}

// TestFindingSymlinkSwappedBindSource (finding 1): with ./data:/data and
// ./data/sub:/sub and restart: on-failure, the workload replaces ./data/sub
// by a symlink to a host directory and exits; the restarted replica must
// not get that directory at /sub (it tries to list it and write into it).
func TestFindingSymlinkSwappedBindSource(t *testing.T) {
	e := newEnv(t)
	target := t.TempDir() // stands in for /root
	secret := "host-secret-" + testutil.RandHex(4)
	if err := os.WriteFile(filepath.Join(target, secret), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"data/sub"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "data"), 0o777)
	script := `if [ -e /data/swapped ]; then ls -a /sub > /data/seen 2>&1; touch /sub/pwned; sleep 600; fi; ` +
		`rm -rf /data/sub && ln -s ` + target + ` /data/sub && touch /data/swapped; exit 1`
	yaml := "name: sec" + testutil.RandHex(3) + `
services:
  victim:
    command: ["/bin/busybox", "sh", "-c", "` + script + `"]
    volumes: ["./data:/data", "./data/sub:/sub"]
    restart: on-failure
    stop_grace_period: 1s
`
	testutil.WriteFile(t, filepath.Join(dir, "nucleus.yaml"), yaml)
	file := filepath.Join(dir, "nucleus.yaml")
	t.Cleanup(func() { e.nucleus(nil, "-f", file, "down", "-t", "1s") })
	r := e.nucleus(nil, "-f", file, "up", "-d")
	t.Logf("up: exit %d %s%s", r.code, r.out, r.err)
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) && !testutil.FileExists(filepath.Join(dir, "data/seen")) {
		if ps := e.nucleus(nil, "-f", file, "ps"); strings.Contains(ps.out+ps.err, "start failed") {
			break // the restart was refused
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !testutil.FileExists(filepath.Join(dir, "data/swapped")) {
		t.Fatalf("the workload never swapped the symlink in: the test proves nothing")
	}
	seen, _ := os.ReadFile(filepath.Join(dir, "data/seen"))
	t.Logf("second replica saw at /sub: %q", seen)
	if strings.Contains(string(seen), secret) {
		t.Errorf("ESCAPE: the restarted replica lists the symlink's host target at /sub: %q", seen)
	}
	if testutil.FileExists(filepath.Join(target, "pwned")) {
		t.Errorf("ESCAPE: the restarted replica wrote into the host directory %s", target)
	}
	ps := e.nucleus(nil, "-f", file, "ps")
	t.Logf("ps: %s%s", ps.out, ps.err)
}

// TestFindingConfigWritableMount (finding 3): a service mounting the
// project directory writable is refused (naming the volume), so a sandbox
// cannot edit the nucleus.yaml that configures it.
func TestFindingConfigWritableMount(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	yaml := "name: sec" + testutil.RandHex(3) + `
services:
  app:
    command: ["/bin/busybox", "sh", "-c", "echo '# pwned' >> /app/nucleus.yaml; sleep 600"]
    volumes: [".:/app"]
    stop_grace_period: 1s
`
	file := filepath.Join(dir, "nucleus.yaml")
	testutil.WriteFile(t, file, yaml)
	t.Cleanup(func() { e.nucleus(nil, "-f", file, "down", "-t", "1s") })
	r := e.nucleus(nil, "-f", file, "up", "-d")
	if r.code == 0 {
		time.Sleep(time.Second)
		t.Errorf("ESCAPE: a writable mount of the project directory was accepted")
	} else if !strings.Contains(r.out+r.err, "/app") && !strings.Contains(r.out+r.err, ".:/app") {
		t.Errorf("refused without naming the volume: %s%s", r.out, r.err)
	}
	if b, _ := os.ReadFile(file); string(b) != yaml {
		t.Errorf("ESCAPE: the sandbox edited its own nucleus.yaml: %q", b)
	}
}

// TestFindingSSLPrivateMasked (finding 5): with `--userns host` (uid 0
// inside is host root, without capabilities) private keys under
// /etc/ssl/private are masked.
func TestFindingSSLPrivateMasked(t *testing.T) {
	e := newEnv(t)
	// A key of the test's own (the host's, from ssl-cert, may be missing:
	// the cgroup v2 VM has none), alongside whatever keys the host has.
	dir := testutil.PrivateKeyDir
	testutil.PlantPrivateKey(t, "NUCLEUS-TEST-KEY")
	keys, _ := filepath.Glob(dir + "/*")
	var as []string
	for i, k := range keys {
		as = append(as, "key"+strconv.Itoa(i)+"=read,"+k)
	}
	as = append(as, "dir=readdir,/etc/ssl/private")
	for _, userns := range []string{"host", "private"} {
		got := e.probe(nil, []string{"--userns", userns}, as...)
		for i, k := range keys {
			if v := got["key"+strconv.Itoa(i)]; strings.HasPrefix(v, "ok:") && v != "ok:0" {
				t.Errorf("ESCAPE: userns %s reads %s (%s)", userns, k, v)
			}
		}
		t.Logf("userns %s: %v", userns, got)
	}
}

// TestFindingTmpfsVolumeBounded (finding 6): an anonymous tmpfs volume
// without a size is bounded (64 MiB), not half the host's memory.
func TestFindingTmpfsVolumeBounded(t *testing.T) {
	e := newEnv(t)
	got := e.probe(nil, []string{"-v", "/scratch"}, "size=statfs_size,/scratch")
	n, err := strconv.ParseUint(got["size"], 10, 64)
	if err != nil || n == 0 || n > 64<<20 {
		t.Errorf("tmpfs volume without size: %s bytes, want at most 64 MiB", got["size"])
	}
}
