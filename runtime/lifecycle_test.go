package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

func TestExitCodesAndSignals(t *testing.T) {
	root := newRoot(t)
	if r := sh(t, root, "exit 7"); r.st.Code != 7 || r.st.Signal != 0 {
		t.Errorf("exit 7: got %+v", r.st)
	}
	if r := sh(t, root, "kill -USR1 $$"); r.st.Code != 128+int(unix.SIGUSR1) || r.st.Signal != unix.SIGUSR1 {
		t.Errorf("killed by USR1: got %+v, want code %d", r.st, 128+int(unix.SIGUSR1))
	}
}

func TestMemoryLimitOOM(t *testing.T) {
	root := newRoot(t)
	svc := service("/bin/busybox", "sh", "-c", "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo survived")
	svc.Limits.Memory = 32 << 20
	r := run(t, Config{Root: root, Project: "p", Service: svc})
	if !r.st.OOMKilled || r.st.Code != 137 {
		t.Fatalf("memory hog: got %+v (out %q), want OOM kill with code 137", r.st, r.out)
	}
}

func TestPidsLimitForkBomb(t *testing.T) {
	root := newRoot(t)
	svc := service("/bin/busybox", "sh", "-c", `while :; do sleep 30 & done`)
	svc.Limits.Pids = 32
	var errb testutil.SyncBuffer
	sb := startSandbox(t, Config{ID: "bomb", Root: root, Service: svc, Stdout: &errb, Stderr: &errb})
	done := make(chan struct{})
	go func() { _, _ = sb.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("fork bomb still running after 10s")
	}
	if !strings.Contains(errb.String(), "can't fork") {
		t.Errorf("no fork failure reported inside: %q", errb.String())
	}
	// The host is fine: we can still fork.
	if err := hostExec("/bin/true"); err != nil {
		t.Errorf("host fork after the bomb: %v", err)
	}
	if st, err := sb.Stats(); err != nil || st.Pids > 32 {
		t.Errorf("pids in the cgroup: %+v %v, limit 32", st, err)
	}
}

func hostExec(path string) error {
	p, err := os.StartProcess(path, []string{path}, &os.ProcAttr{})
	if err != nil {
		return err
	}
	_, err = p.Wait()
	return err
}

func TestZombiesReaped(t *testing.T) {
	root := newRoot(t)
	// Orphans re-parented to PID 1 exit; only the init can reap them.
	r := sh(t, root, `for i in 1 2 3 4 5; do (sleep 0.05 &) ; done; sleep 0.5; cat /proc/[0-9]*/stat | awk '{print $3}' | grep -c Z`)
	if strings.TrimSpace(r.out) != "0" {
		t.Errorf("zombies inside the sandbox: %q", r.out)
	}
}

// TestStopKillsDoubleForkedDaemon: a daemon that left its parent and
// ignores SIGTERM is still in the cgroup, so Stop finds and kills it.
func TestStopKillsDoubleForkedDaemon(t *testing.T) {
	root := newRoot(t)
	svc := service("/bin/busybox", "sh", "-c", `(trap '' TERM; setsid sh -c "trap '' TERM; sleep 1000" & ) ; trap '' TERM; sleep 1000`)
	ctx := context.Background()
	sb, err := Create(ctx, Config{ID: "daemon", Root: root, Project: "p", Service: svc, Stdout: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	procs, err := sb.cg.Procs()
	if err != nil || len(procs) < 3 {
		t.Fatalf("expected init, shell, daemon and sleeps in the cgroup: %v %v", procs, err)
	}
	start := time.Now()
	if err := sb.Stop(ctx, unix.SIGTERM, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("stop took %v: the workload ignores SIGTERM, so the grace period should have run", d)
	}
	for _, p := range procs {
		if err := unix.Kill(p, 0); err == nil {
			t.Errorf("process %d survived Stop", p)
		}
	}
}

func TestStopGraceful(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	sb, err := Create(ctx, Config{ID: "graceful", Root: root, Project: "p", Service: service("/bin/busybox", "sleep", "1000"), Stdout: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := sb.Stop(ctx, unix.SIGTERM, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("sleep ignores nothing, yet stop took %v", d)
	}
	if st, _ := sb.Wait(); st.Signal != unix.SIGTERM {
		t.Errorf("status %+v, want killed by SIGTERM", st)
	}
}

func TestSignalForwardedByInit(t *testing.T) {
	root := newRoot(t)
	sb := startSandbox(t, Config{ID: "fwd", Root: root, Service: service("/bin/busybox", "sh", "-c", "trap 'exit 42' HUP; while :; do sleep 0.05; done"), Stdout: os.Stderr})
	time.Sleep(150 * time.Millisecond)
	// Signal the init: it forwards to the workload.
	if err := unix.Kill(sb.PID(), unix.SIGHUP); err != nil {
		t.Fatal(err)
	}
	st, err := sb.Wait()
	if err != nil || st.Code != 42 {
		t.Errorf("after SIGHUP to the init: %+v %v, want exit 42 from the workload's trap", st, err)
	}
}

func TestStats(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	svc := service("/bin/busybox", "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 10")
	svc.Limits = Limits{Memory: 64 << 20, Pids: 50, CPUs: 0.5}
	sb := startSandbox(t, Config{ID: "stats", Root: root, Service: svc, Stdout: os.Stderr})
	time.Sleep(300 * time.Millisecond)
	st, err := sb.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// The workload's figures: the shell is the one task (the init's
	// spawner thread, also in the cgroup, is not counted).
	if st.Pids != 1 || st.PidsLimit != 50 || st.MemoryBytes == 0 || st.MemoryLimit != 64<<20 || st.CPUUsec == 0 {
		t.Errorf("stats %+v: want pids 1 of 50, memory > 0, limit 64M, cpu > 0", st)
	}
	if sb.cg.V2() { // the init's budget on top (see initMemory)
		if b, _ := os.ReadFile(filepath.Join(sb.cg.Dir(), "memory.max")); strings.TrimSpace(string(b)) != strconv.Itoa(64<<20+initMemory) {
			t.Errorf("memory.max = %q, want 64M + %d", b, initMemory)
		}
	}
	if err := sb.UpdateResources(Limits{Memory: 128 << 20, Pids: 50}); err != nil {
		t.Fatal(err)
	}
	if st, _ := sb.Stats(); st.MemoryLimit != 128<<20 {
		t.Errorf("after update: limit %d, want 128M", st.MemoryLimit)
	}
	if err := sb.Stop(ctx, unix.SIGKILL, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root.Run, "sandboxes", "stats")); !os.IsNotExist(err) {
		t.Errorf("state left after stop: %v", err)
	}
}

// TestParallelSandboxes: a supervisor starts replicas concurrently.
func TestParallelSandboxes(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		go func(i int) {
			errs <- func() error {
				var out testutil.SyncBuffer
				sb, err := Create(ctx, Config{ID: "par" + string(rune('a'+i)), Root: root, Project: "p",
					Service: service("/bin/busybox", "sh", "-c", "echo $$; cat /proc/1/cmdline"), Stdout: &out})
				if err != nil {
					return err
				}
				defer sb.Remove(ctx)
				if err := sb.Start(); err != nil {
					return err
				}
				st, err := sb.Wait()
				if err == nil && (st.Code != 0 || !strings.Contains(out.String(), "par"+string(rune('a'+i)))) {
					err = fmt.Errorf("sandbox %d: %+v, output %q: want its own init as PID 1", i, st, out.String())
				}
				return err
			}()
		}(i)
	}
	for i := 0; i < 6; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestLoopbackOnly: the sandbox's own network namespace has a working lo and
// nothing else.
func TestLoopbackOnly(t *testing.T) {
	root := newRoot(t)
	// No fixed sleeps (they flake under load): retry until the listener
	// is up, then wait for what it got. The listener's stdin stays open: at
	// EOF busybox nc shuts its side down, and a client that sees that
	// before reading its own stdin sends nothing.
	r := sh(t, root, `ls /sys/class/net; sleep 30 | busybox nc -l -p 8080 > /tmp/got & i=0; `+
		`while [ $i -lt 200 ] && ! echo hello | busybox nc 127.0.0.1 8080 2>/dev/null; do sleep 0.05; i=$((i+1)); done; `+
		`i=0; while [ $i -lt 200 ] && [ ! -s /tmp/got ]; do sleep 0.05; i=$((i+1)); done; cat /tmp/got`)
	if r.out != "lo\nhello\n" {
		t.Errorf("loopback: out %q err %q, want only lo, and 127.0.0.1 reachable", r.out, r.err)
	}
}
