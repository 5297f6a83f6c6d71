package runtime

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
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
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpawnHangHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), spawnHangEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "child %d", &child); err == nil {
			break
		}
	}
	if child <= 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("helper did not report its child")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(child) {
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
	_, _, err = spawnInit("/bin/true", []string{"true"}, nil, fds, flags, true, unix.SIGKILL, func(pid int) error {
		fmt.Printf("child %d\n", pid)
		os.Stdout.Sync()
		select {} // the caller "dies" here: the test kills this process
	})
	t.Fatal(strings.TrimSpace(fmt.Sprint("spawnInit returned: ", err)))
}
