package runtime

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

const spawnHangEnv = "NUCLEUS_TEST_SPAWN_HANG"

// TestSpawnChildExitsWhenCallerDiesBeforeMaps: a caller killed between the
// clone and writing the id maps (a `nucleus run` killed right at its start)
// must not leave the cloned child waiting forever in its new namespaces.
func TestSpawnChildExitsWhenCallerDiesBeforeMaps(t *testing.T) {
	testutil.RequireRoot(t)
	cmd, line := testutil.StartHelper(t, "TestSpawnHangHelper", "child ", 60*time.Second, spawnHangEnv+"=1")
	child := 0
	if _, err := fmt.Sscanf(line, "child %d", &child); err != nil || child <= 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper did not report its child: %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.Alive(child) {
		if time.Now().After(deadline) {
			_ = unix.Kill(child, unix.SIGKILL)
			t.Fatalf("cloned child %d still waits after its caller died", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSpawnHangHelper runs in the helper process only: it clones a child
// with every namespace and then never writes its id maps.
func TestSpawnHangHelper(t *testing.T) {
	if os.Getenv(spawnHangEnv) == "" {
		t.Skip("helper for TestSpawnChildExitsWhenCallerDiesBeforeMaps")
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fds := [4]int{int(null.Fd()), int(null.Fd()), int(null.Fd()), int(null.Fd())}
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNET | unix.CLONE_NEWUSER)
	_, _, err = spawnInit("/bin/true", []string{"true"}, nil, fds, flags, idsRoot, unix.SIGKILL, func(pid int) error {
		fmt.Printf("child %d\n", pid)
		os.Stdout.Sync()
		select {} // the caller "dies" here: the test kills this process
	}, -1)
	t.Fatal(strings.TrimSpace(fmt.Sprint("spawnInit returned: ", err)))
}

// While it waits for its id maps, the cloned child holds only the fds it
// uses: a write end of another sandbox's sync pipe (the caller's fd table
// is copied) would keep that sandbox's child waiting after the caller died.
func TestSpawnChildKeepsOnlyItsOwnFDs(t *testing.T) {
	testutil.RequireRoot(t)
	r, w, err := os.Pipe() // a sibling's pipe, open in the caller
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	fds := [4]int{int(null.Fd()), int(null.Fd()), int(null.Fd()), int(null.Fd())}
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUSER)
	var open []string
	_, _, err = spawnInit("/bin/true", []string{"true"}, nil, fds, flags, idsRoot, 0, func(pid int) error {
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
			if strings.Contains(string(b), "pipe_read") || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			return err
		}
		for _, e := range ents {
			open = append(open, e.Name())
		}
		return fmt.Errorf("stop here")
	}, -1)
	if err == nil || !strings.Contains(err.Error(), "stop here") {
		t.Fatalf("spawnInit: %v", err)
	}
	// sync_fd, err_fd and the one fd passed four times.
	if len(open) != 3 {
		t.Errorf("child holds fds %v, want 3 (its sync and error pipe ends, the passed fd)", open)
	}
	if strings.Contains(" "+strings.Join(open, " ")+" ", fmt.Sprintf(" %d ", w.Fd())) {
		t.Errorf("child holds the sibling's write end (fd %d): %v", w.Fd(), open)
	}
}
