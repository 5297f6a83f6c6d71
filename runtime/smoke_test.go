package runtime

import (
	"bytes"
	"context"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/spec"
)

func TestSmokeTrue(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	var out bytes.Buffer
	svc := &spec.Service{Name: "smoke", Command: []string{"/bin/sh", "-c", "echo hello; id; cat /proc/self/status | grep -E 'Cap|NoNew|Seccomp'; ls /; hostname"}, ReadOnly: true,
		Security: spec.Security{UserNS: spec.UserNSPrivate, Seccomp: spec.SeccompDefault, Landlock: spec.Landlock{Mode: spec.LandlockDefault}}}
	sb, err := Create(context.Background(), Config{ID: "smoke", Project: "p", Root: root, Service: svc, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := sb.Wait()
	t.Logf("status %+v err %v\n%s", st, err, out.String())
	if err := sb.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}
}
