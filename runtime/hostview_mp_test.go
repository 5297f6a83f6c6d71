package runtime

import (
	"context"
	"os"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// TestHostViewMissingTargets: on the host view, mount targets it lacks
// are made in its tmpfs root or, under a host system directory, in the
// writable overlay (read_only: false); a read-only root refuses one under
// a system directory, naming it. The host's directories never gain them.
func TestHostViewMissingTargets(t *testing.T) {
	root := newRoot(t)
	etc := "/etc/nucleus-mp-" + testutil.RandHex(4)
	mounts := []ResolvedMount{
		{Type: MountBind, Source: testutil.WriteFiles(t, t.TempDir(), map[string]string{"v": "VOLUME"}), Target: "/srv/vol", ReadOnly: true},
		{Type: MountTmpfs, Target: "/cache", Size: 1 << 20}}
	files := []FileMount{{Target: etc, Data: []byte("CONFIG"), Mode: 0o444}}

	svc := service("/bin/busybox", "sh", "-c", "cat /srv/vol/v "+etc+"; touch /cache/x && echo cached")
	svc.ReadOnly, svc.FileMounts = false, files
	r := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts})
	if r.st.Code != 0 || r.out != "VOLUMECONFIGcached\n" {
		t.Errorf("read_only false: %+v %q %s", r.st, r.out, r.err)
	}

	svc = service("/bin/busybox", "sh", "-c", "cat /srv/vol/v; touch /cache/x && echo cached")
	r = run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts})
	if r.st.Code != 0 || r.out != "VOLUMEcached\n" {
		t.Errorf("read-only, targets outside the system directories: %+v %q %s", r.st, r.out, r.err)
	}
	svc.FileMounts = files
	_, err := Create(context.Background(), Config{Root: root, Project: "p", ID: "refused", Service: svc, Mounts: mounts})
	if err == nil || !strings.Contains(err.Error(), etc) || !strings.Contains(err.Error(), "read-only file system") {
		t.Errorf("read-only, a target under /etc: %v, want a read-only file system error naming %s", err, etc)
	}
	for _, p := range []string{etc, "/srv/vol", "/cache"} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s on the host after the runs (%v)", p, err)
		}
	}
}
