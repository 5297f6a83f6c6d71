package runtime

import (
	"strings"
	"testing"
)

// TestTmpfsVolumeDefaultSize: a tmpfs volume without `size` is bounded
// (64 MiB, like /tmp), not the kernel's half of the host's RAM.
func TestTmpfsVolumeDefaultSize(t *testing.T) {
	root := newRoot(t)
	svc := service("/bin/busybox", "sh", "-c",
		"df -k /t | tail -1; dd if=/dev/zero of=/t/f bs=1M count=100 2>&1; echo dd=$?")
	r := run(t, Config{Root: root, Project: "p", Service: svc,
		Mounts: []ResolvedMount{{Type: MountTmpfs, Target: "/t"}}})
	if f := strings.Fields(r.out); len(f) < 2 || f[1] != "65536" {
		t.Errorf("tmpfs volume without size: df says %q, want 65536 KiB", r.out)
	}
	if !strings.Contains(r.out, "No space left") || strings.Contains(r.out, "dd=0") {
		t.Errorf("100 MiB written into an unsized tmpfs volume:\n%s", r.out)
	}
}

// TestTmpfsVolumeChargedToSandbox: what a tmpfs volume holds counts against
// the sandbox's memory limit, whatever the volume's own size.
func TestTmpfsVolumeChargedToSandbox(t *testing.T) {
	root := newRoot(t)
	svc := service("/bin/busybox", "sh", "-c", "dd if=/dev/zero of=/t/f bs=1M count=100 2>&1; echo dd=$?")
	svc.Limits.Memory = 32 << 20
	r := run(t, Config{Root: root, Project: "p", Service: svc,
		Mounts: []ResolvedMount{{Type: MountTmpfs, Target: "/t", Size: 256 << 20}}})
	if strings.Contains(r.out, "dd=0") || strings.Contains(r.out, "100+0 records out") {
		t.Errorf("100 MiB written to tmpfs under a 32 MiB memory limit: %+v\n%s", r.st, r.out)
	}
}
