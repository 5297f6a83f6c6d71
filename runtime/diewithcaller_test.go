package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/internal/testutil"

	"golang.org/x/sys/unix"
)

// Env of the helper process TestDieWithCaller starts (this test binary).
const (
	dwcRunEnv  = "NUCLEUS_TEST_DWC_RUN"
	dwcDataEnv = "NUCLEUS_TEST_DWC_DATA"
	dwcV2Env   = "NUCLEUS_TEST_DWC_V2" // a v2 cgroup: start the init through os/exec
)

// TestDieWithCaller: a foreground caller (`nucleus run`) killed with SIGKILL
// takes its sandbox with it — init and workload are gone within seconds, and
// the usual cleanup (adopt the record, remove) leaves nothing behind. Both
// start paths: spawnInit (v1, the test hosts) and os/exec into a v2 cgroup.
func TestDieWithCaller(t *testing.T) {
	t.Run("v1", func(t *testing.T) { dieWithCaller(t, "") })
	t.Run("v2", func(t *testing.T) { dieWithCaller(t, hybridV2Dir(t)) })
}

func dieWithCaller(t *testing.T, v2Dir string) {
	root := newRoot(t)
	cmd, line := testutil.StartHelper(t, "TestDieWithCallerHelper", "pids ", 60*time.Second,
		dwcRunEnv+"="+root.Run, dwcDataEnv+"="+root.Data, dwcV2Env+"="+v2Dir)
	var initPid, workPid int
	fmt.Sscanf(line, "pids %d %d", &initPid, &workPid)
	ctx := context.Background()
	// Whatever happens below, the sandbox is removed the way `nucleus run`'s
	// sweep would: adopt its record and remove it.
	defer func() {
		rec, err := ReadRecord(root, "dwc")
		if err != nil {
			t.Errorf("record after the caller died: %v", err)
			return
		}
		ad, err := Adopt(root, rec)
		if err != nil {
			t.Errorf("adopt: %v", err)
			return
		}
		if err := ad.Remove(ctx); err != nil {
			t.Errorf("remove: %v", err)
		}
	}()
	if initPid <= 0 || workPid <= 0 || !testutil.Alive(initPid) || !testutil.Alive(workPid) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("sandbox not running before the kill: init %d workload %d", initPid, workPid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.Alive(initPid) || testutil.Alive(workPid) {
		if time.Now().After(deadline) {
			t.Fatalf("sandbox outlived its SIGKILLed caller by 5s: init %d alive %v, workload %d alive %v",
				initPid, testutil.Alive(initPid), workPid, testutil.Alive(workPid))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDieWithCallerHelper is the caller TestDieWithCaller kills: it starts a
// DieWithCaller sandbox running a long sleep, reports the pids and waits.
func TestDieWithCallerHelper(t *testing.T) {
	if os.Getenv(dwcRunEnv) == "" {
		t.Skip("helper of TestDieWithCaller")
	}
	root := rootdir.Root{Run: os.Getenv(dwcRunEnv), Data: os.Getenv(dwcDataEnv)}
	testV2Dir = os.Getenv(dwcV2Env)
	sb, err := Create(context.Background(), Config{ID: "dwc", Root: root, Project: "p",
		Service: service("/bin/busybox", "sleep", "600"), DieWithCaller: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	var wp int
	for i := 0; i < 200; i++ {
		if wp, err = sb.workloadHostPID(); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("pids %d %d\n", sb.PID(), wp)
	time.Sleep(10 * time.Minute)
}

// TestDieWithCallerOutlivesThread: the parent-death signal follows the
// cloning thread, and a Go thread exits when a goroutine locked to it ends
// (network code does that). A caller that still runs keeps its sandbox.
func TestDieWithCallerOutlivesThread(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	type created struct {
		sb  *Sandbox
		tid int
		err error
	}
	ch := make(chan created, 1)
	create := func() {
		goruntime.LockOSThread() // never unlocked: the thread exits with the goroutine
		sb, err := Create(ctx, Config{ID: "thread", Root: root, Project: "p",
			Service: service("/bin/busybox", "sleep", "600"), DieWithCaller: true})
		ch <- created{sb, unix.Gettid(), err}
	}
	go func() {
		goruntime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			create()
			return
		}
		// Go never ends the main thread: hold it so that create gets another.
		done := make(chan struct{})
		go func() { defer close(done); create() }()
		<-done
		goruntime.UnlockOSThread()
	}()
	c := <-ch
	if c.err != nil {
		t.Fatal(c.err)
	}
	sb := c.sb
	defer func() {
		if err := sb.Remove(ctx); err != nil {
			t.Errorf("remove: %v", err)
		}
	}()
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	task := fmt.Sprintf("/proc/self/task/%d", c.tid)
	for i := 0; ; i++ {
		if _, err := os.Stat(task); errors.Is(err, os.ErrNotExist) {
			break
		}
		if i == 200 {
			t.Fatalf("the thread that called Create (%d) did not exit", c.tid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Give a parent-death signal time to land.
	time.Sleep(200 * time.Millisecond)
	if !testutil.Alive(sb.PID()) {
		t.Fatal("sandbox init died with a thread of its still-running caller")
	}
	if _, err := sb.workloadHostPID(); err != nil {
		t.Errorf("workload after the cloning thread exited: %v", err)
	}
}
