package runtime

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"nucleus/runtime/landlock"
)

// TestUlimitsInsideSandbox: ulimits reach the workload, soft and hard,
// inside the sandbox's private user namespace.
func TestUlimitsInsideSandbox(t *testing.T) {
	root := newRoot(t)
	svc := service("/bin/busybox", "sh", "-c", "echo $(ulimit -Sn) $(ulimit -Hn) $(ulimit -Sc) $(ulimit -Hc) $(ulimit -Ss)")
	svc.Ulimits = []Ulimit{
		{Name: "nofile", Resource: unix.RLIMIT_NOFILE, Soft: 1000, Hard: 2000},
		{Name: "core", Resource: unix.RLIMIT_CORE, Soft: 0, Hard: 0},
		{Name: "stack", Resource: unix.RLIMIT_STACK, Soft: 4 << 20, Hard: 8 << 20},
	}
	r := run(t, Config{Root: root, Project: "p", Service: svc})
	if got, want := strings.TrimSpace(r.out), "1000 2000 0 0 4096"; got != want || r.st.Code != 0 {
		t.Errorf("ulimit -Sn -Hn -Sc -Hc -Ss inside: %q (%+v, stderr %q); want %q", got, r.st, r.err, want)
	}
}

// TestUlimitAboveOwnHardLimit: a hard limit above the one nucleus runs
// with is set from the caller (prlimit on the init), which works for a
// sandbox in a private user namespace when nucleus has CAP_SYS_RESOURCE
// (root on most hosts; not on this build machine, whose root lacks it), and
// otherwise fails Create with the reason instead of starting the workload
// without it.
func TestUlimitAboveOwnHardLimit(t *testing.T) {
	root := newRoot(t)
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
		t.Fatal(err)
	}
	want := cur.Max + 1
	svc := service("/bin/busybox", "sh", "-c", "ulimit -Hn")
	svc.Ulimits = []Ulimit{{Name: "nofile", Resource: unix.RLIMIT_NOFILE, Soft: 1024, Hard: want}}
	if hasCapSysResource(t) {
		r := run(t, Config{Root: root, Project: "p", Service: svc})
		if got := strings.TrimSpace(r.out); got != strconv.FormatUint(want, 10) {
			t.Errorf("ulimit -Hn = %q (%+v, %q); want %d, raised by the caller", got, r.st, r.err, want)
		}
		return
	}
	sb, err := Create(context.Background(), Config{Root: root, Project: "p", ID: "ulimit-high", Service: svc})
	if err == nil {
		_ = sb.Remove(context.Background())
		t.Fatalf("nofile hard %d (nucleus runs with %d, without CAP_SYS_RESOURCE) was accepted", want, cur.Max)
	}
	msg := "ulimits.nofile: hard limit " + strconv.FormatUint(want, 10) + " is above " + strconv.FormatUint(cur.Max, 10)
	if !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "CAP_SYS_RESOURCE") {
		t.Errorf("error %q; want it to say %q and name CAP_SYS_RESOURCE", err, msg)
	}
}

// hasCapSysResource reports whether this process has CAP_SYS_RESOURCE.
func hasCapSysResource(t *testing.T) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_SYS_RESOURCE) != 0
		}
	}
	return false
}

// TestShmSize: shm_size sizes /dev/shm; without it, it stays 64 MiB.
func TestShmSize(t *testing.T) {
	root := newRoot(t)
	for size, want := range map[int64]string{0: "65536", 16 << 20: "16384"} {
		svc := service("/bin/busybox", "sh", "-c", "df -k /dev/shm | tail -1")
		svc.ShmSize = size
		r := run(t, Config{Root: root, Project: "p", Service: svc})
		if f := strings.Fields(r.out); len(f) < 2 || f[1] != want {
			t.Errorf("shm_size %d: df /dev/shm says %q (stderr %q); want %s KiB", size, r.out, r.err, want)
		}
	}
}

// TestTmpfsModeAndExec: a tmpfs volume takes its mode; under the default
// Landlock rules nothing in it runs unless exec is asked for, and noexec
// holds with Landlock off too.
func TestTmpfsModeAndExec(t *testing.T) {
	root := newRoot(t)
	script := "stat -c %a /t; cp /bin/busybox /t/sh && /t/sh -c true; echo exec=$?"
	for _, c := range []struct {
		mode         uint32
		exec, noexec bool
		landlockOff  bool
		want         string
	}{
		{0, false, false, false, "1777 exec=126"},
		{0o700, true, false, false, "700 exec=0"},
		{0, false, false, true, "1777 exec=0"},
		{0, false, true, true, "1777 exec=126"},
	} {
		svc := service("/bin/busybox", "sh", "-c", script)
		if c.landlockOff {
			svc.Security.Landlock.Mode = landlock.ModeOff
		}
		r := run(t, Config{Root: root, Project: "p", Service: svc,
			Mounts: []ResolvedMount{{Type: MountTmpfs, Target: "/t", Mode: c.mode, Exec: c.exec, NoExec: c.noexec}}})
		if got := strings.Join(strings.Fields(r.out), " "); got != c.want {
			t.Errorf("tmpfs mode %o exec %v noexec %v landlock off %v: %q (stderr %q); want %q", c.mode, c.exec, c.noexec, c.landlockOff, got, r.err, c.want)
		}
	}
}
