package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// TestMissingTargetsLeaveRootfsAlone: a volume, a tmpfs, a secret-like
// file and generated files whose targets a rootfs lacks are mounted in
// the sandbox, and the rootfs directory on the host gains nothing (an
// image's tree is shared by every replica of every service using it, a
// rootfs: directory is the user's). Read-only or not, with the writable
// layer in memory or in an upper directory; a tree without /run, /tmp,
// /proc, /sys and /dev (as image trees may be) too.
func TestMissingTargetsLeaveRootfsAlone(t *testing.T) {
	root := newRoot(t)
	vol := testutil.WriteFiles(t, t.TempDir(), map[string]string{"v": "VOLUME"})
	bare := testutil.BusyboxRootfs(t)
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "data"} {
		if err := os.Remove(filepath.Join(bare, d)); err != nil {
			t.Fatal(err)
		}
	}
	script := `cat /srv/vol/v; echo; cat /db_password; echo; cat /etc/resolv.conf
echo t > /cache/t && cat /cache/t
echo x >> /etc/resolv.conf 2>/dev/null && echo RESOLV-WRITABLE
ls -d /proc/self /tmp /run /dev/null >/dev/null && echo SPECIAL-OK`
	for _, c := range []struct {
		name, rootfs string
		readOnly     bool
		upper        bool
	}{
		{"read-only", testutil.BusyboxRootfs(t), true, false},
		{"read-only-bare", bare, true, false},
		{"tmpfs", testutil.BusyboxRootfs(t), false, false},
		{"upper", testutil.BusyboxRootfs(t), false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := testutil.TreeSnapshot(t, c.rootfs)
			svc := service("/bin/sh", "-c", script)
			svc.Rootfs, svc.ReadOnly = c.rootfs, c.readOnly
			svc.FileMounts = []FileMount{{Target: "/db_password", Data: []byte("SECRET"), Mode: 0o444}}
			cfg := Config{Root: root, Project: "p", Service: svc,
				Files: map[string][]byte{"/etc/resolv.conf": []byte("nameserver 127.0.0.1\n")},
				Mounts: []ResolvedMount{
					{Type: MountBind, Source: vol, Target: "/srv/vol", ReadOnly: true},
					{Type: MountTmpfs, Target: "/cache", Size: 1 << 20},
				}}
			if c.upper {
				cfg.UpperDir = filepath.Join(t.TempDir(), "t-1")
			}
			r := run(t, cfg)
			if r.st.Code != 0 {
				t.Fatalf("workload exited %+v: %s %s", r.st, r.out, r.err)
			}
			for _, want := range []string{"VOLUME\nSECRET\nnameserver 127.0.0.1\n", "\nt\n", "SPECIAL-OK"} {
				if !strings.Contains(r.out, want) {
					t.Errorf("sandbox output lacks %q:\n%s%s", want, r.out, r.err)
				}
			}
			if strings.Contains(r.out, "RESOLV-WRITABLE") {
				t.Errorf("the generated /etc/resolv.conf is writable in the sandbox:\n%s", r.out)
			}
			if d := testutil.TreeChanges(before, testutil.TreeSnapshot(t, c.rootfs)); d != "" {
				t.Errorf("the rootfs directory on the host changed:\n%s", d)
			}
		})
	}
}
