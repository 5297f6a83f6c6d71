package runtime

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileMounts: secrets and configs are readable at their targets with
// the owner and mode asked for, not writable even by the sandbox's root,
// of any size up to the loader's 1 MiB, and their content is nowhere under
// the state root.
func TestFileMounts(t *testing.T) {
	root := newRoot(t)
	const secret = "NUCLEUS-TEST-SECRET-CONTENT"
	big := bytes.Repeat([]byte("b"), 1<<20)
	files := []FileMount{
		{Target: "/run/secrets/db", Data: []byte(secret), Mode: 0o444},
		{Target: "/run/secrets/tok", Data: []byte("tok"), UID: 1000, GID: 1001, Mode: 0o400},
		{Target: "/conf/app.ini", Data: []byte("[app]"), Mode: 0o640, GID: 1001},
		{Target: "/big", Data: big, Mode: 0o444},
	}
	script := `for f in /run/secrets/db /run/secrets/tok /conf/app.ini; do echo "$f $(stat -c '%u:%g %a' $f) $(cat $f)"; done
wc -c < /big
echo x >> /run/secrets/db 2>&1 && echo WROTE
chmod 777 /run/secrets/db 2>&1 && echo CHMOD
rm -f /run/secrets/db 2>&1 && echo REMOVED
exit 0`
	// The sandbox's root: owner and mode as given, nothing writable.
	svc := service("/bin/busybox", "sh", "-c", script)
	svc.FileMounts = files
	r := run(t, Config{Root: root, Project: "p", Service: svc})
	for _, want := range []string{
		"/run/secrets/db 0:0 444 " + secret,
		"/run/secrets/tok 1000:1001 400 \n", // root has no CAP_DAC_OVERRIDE: not its file
		"/conf/app.ini 0:1001 640 [app]",
		"1048576",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("sandbox output lacks %q:\n%s", want, r.out)
		}
	}
	for _, bad := range []string{"WROTE", "CHMOD", "REMOVED"} {
		if strings.Contains(r.out, bad) {
			t.Errorf("the sandbox's root changed a mounted secret (%s):\n%s", bad, r.out)
		}
	}
	if !strings.Contains(r.out, "chmod: /run/secrets/db: Read-only file system") {
		t.Errorf("changing a secret did not fail with EROFS:\n%s", r.out)
	}
	// User 1000 reads its 0400 secret; group 1001 is not its group here,
	// so the 0640 config stays closed to it.
	svc = service("/bin/busybox", "sh", "-c", "cat /run/secrets/tok; echo; cat /conf/app.ini 2>&1; echo x > /run/secrets/tok 2>&1 || echo DENIED")
	svc.Process.User = "1000:1000"
	svc.FileMounts = files
	r = run(t, Config{Root: root, Project: "p", Service: svc})
	if !strings.HasPrefix(r.out, "tok\n") || !strings.Contains(r.out, "Permission denied") || !strings.Contains(r.out, "DENIED") {
		t.Errorf("user 1000:\n%s", r.out)
	}
	// Nothing under the state root holds the content.
	for _, dir := range []string{root.Run, root.Data} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the secret's content", p)
			}
			return nil
		})
	}
}
