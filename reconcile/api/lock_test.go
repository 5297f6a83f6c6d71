package api

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"
)

// apiRoot is a fresh state root with the api's directory made, where a
// test plants lock files and sockets.
func apiRoot(t *testing.T) rootdir.Root {
	t.Helper()
	root := testutil.TempRoot(t)
	if err := os.MkdirAll(Dir(root), 0o700); err != nil {
		t.Fatal(err)
	}
	return root
}

// One supervisor per project: a second lock fails and names the holder;
// releasing (or the holder dying) frees it.
func TestLockIsExclusivePerProject(t *testing.T) {
	root := testutil.TempRoot(t)
	l, err := TryLock(root, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if pid, ok := Running(root, "shop"); !ok || pid != os.Getpid() {
		t.Fatalf("Running = %d %v, want this process", pid, ok)
	}
	var running *ErrRunning
	if _, err := TryLock(root, "shop"); !errors.As(err, &running) || running.PID != os.Getpid() {
		t.Fatalf("second lock: %v, want ErrRunning naming pid %d", err, os.Getpid())
	}
	other, err := TryLock(root, "blog")
	if err != nil {
		t.Fatalf("another project's lock: %v", err)
	}
	other.Release(true)
	l.Release(false)
	if _, ok := Running(root, "shop"); ok {
		t.Fatal("still running after release")
	}
	l2, err := TryLock(root, "shop")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release(true)
	if _, err := os.Stat(LockPath(root, "shop")); !os.IsNotExist(err) {
		t.Errorf("Release(true) left the lock file: %v", err)
	}
}

// A lock held by a process that was SIGKILLed is free again (the kernel
// drops flocks with the process).
func TestLockOfKilledProcessIsFree(t *testing.T) {
	root := apiRoot(t)
	// flock(1) from util-linux holds the lock in a child process.
	_, err := exec.LookPath("flock")
	testutil.Require(t, err == nil, "flock(1) (util-linux)")
	// The shell takes the lock on fd 9 and execs into sleep, so one
	// process holds it.
	cmd := exec.Command("sh", "-c", `exec 9>>"$0"; flock -x 9; exec sleep 60`, LockPath(root, "shop"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := Running(root, "shop"); ok {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("flock(1) did not take the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := TryLock(root, "shop"); err == nil {
		t.Fatal("lock taken while flock(1) holds it")
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := TryLock(root, "shop")
	if err != nil {
		t.Fatalf("lock after the holder was killed: %v", err)
	}
	l.Release(true)
}

// A socket left by a killed supervisor (lock free) is stale: Dial says no
// supervisor runs and removes it.
func TestDialRemovesStaleSocket(t *testing.T) {
	root := apiRoot(t)
	ln, err := net.Listen("unix", SocketPath(root, "shop"))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays, nobody listens: what SIGKILL leaves
	if _, err := Dial(root, "shop"); !errors.Is(err, ErrNoSupervisor) {
		t.Fatalf("Dial = %v, want ErrNoSupervisor", err)
	}
	if _, err := os.Stat(SocketPath(root, "shop")); !os.IsNotExist(err) {
		t.Errorf("stale socket not removed: %v", err)
	}
}

// A supervisor starting while `up` polls Running (a brief shared lock on
// the same file) takes the lock: the probe is not a supervisor. Before,
// the supervisor gave up with "already running (pid 0)".
func TestLockNotTakenByRunningProbe(t *testing.T) {
	root := apiRoot(t)
	f, err := os.OpenFile(LockPath(root, "shop"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(20 * time.Millisecond); unix.Flock(int(f.Fd()), unix.LOCK_UN) }()
	l, err := TryLock(root, "shop")
	if err != nil {
		t.Fatalf("lock while a Running probe held it for 20 ms: %v", err)
	}
	l.Release(true)
}

// A supervisor whose state root is full cannot write its PID into the lock
// file; Running still names it (messages said "pid 0").
func TestRunningNamesHolderOnFullDisk(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.TempRoot(t)
	fs := testutil.MountSmallFS(t, root.Run, 64<<10)
	fs.Fill(t)
	l, err := TryLock(root, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(true)
	if b, _ := os.ReadFile(LockPath(root, "shop")); len(b) != 0 {
		t.Fatalf("the lock file holds %q on a full disk; the test needs it empty", b)
	}
	if pid, ok := Running(root, "shop"); !ok || pid != os.Getpid() {
		t.Errorf("Running on a full disk = %d %v, want %d", pid, ok, os.Getpid())
	}
}

// A killed supervisor keeps its flock (and socket) until the kernel has
// released its files, which took up to 1.4 s in a kill loop (its exit
// waits in inotify_release for an SRCU grace period): while the PID the lock
// names is gone or exiting, Running says no supervisor (nobody answers
// there), and a new supervisor's TryLock waits for the lock instead of
// failing with ErrRunning.
func TestLockOfExitingHolder(t *testing.T) {
	root := apiRoot(t)
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	// The held lock of a process that has gone: the test holds the flock
	// itself, as the killed supervisor's unreleased file would.
	path := LockPath(root, "shop")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, path, strconv.Itoa(dead.Process.Pid)+"\n")
	if pid, ok := Running(root, "shop"); ok {
		t.Fatalf("Running = %d true while the lock names pid %d, which has exited; want not running", pid, dead.Process.Pid)
	}
	release := 300 * time.Millisecond
	time.AfterFunc(release, func() { f.Close() })
	start := time.Now()
	l, err := TryLock(root, "shop")
	if err != nil {
		t.Fatalf("TryLock while the exiting holder lets go after %s: %v; want the lock once it is released", release, err)
	}
	defer l.Release(true)
	if took := time.Since(start); took < release {
		t.Errorf("TryLock took the lock after %s, before the holder released it (%s)", took, release)
	}
}
