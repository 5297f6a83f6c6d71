package procstat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tail := " 1 1 0 -1 4194560 100 0 0 0 1 2 3 4 20 0 5 0 987654 1000 100"
	for _, c := range []struct {
		in      string
		want    Stat
		wantErr bool
	}{
		{in: "42 (sleep) S 7" + tail, want: Stat{State: 'S', PPID: 7, Flags: 4194560, StartTime: 987654, UTime: 1, STime: 2, CUTime: 3, CSTime: 4, Threads: 5, RSS: 100}},
		{in: "42 (a) (b) Z 1" + tail, want: Stat{State: 'Z', PPID: 1, Flags: 4194560, StartTime: 987654, UTime: 1, STime: 2, CUTime: 3, CSTime: 4, Threads: 5, RSS: 100}},
		{in: "42 (x y)) R 3" + tail + "\n", want: Stat{State: 'R', PPID: 3, Flags: 4194560, StartTime: 987654, UTime: 1, STime: 2, CUTime: 3, CSTime: 4, Threads: 5, RSS: 100}},
		{in: "42 sleep S 7" + tail, wantErr: true},
		{in: "42 (sleep) S 7 1 1", wantErr: true},
		{in: "42 (sleep) S x" + tail, wantErr: true},
	} {
		got, err := Parse([]byte(c.in))
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v (error %v)", c.in, got, err, c.want, c.wantErr)
		}
	}
	if got, err := Parse([]byte("42 (sleep) S 7" + tail[:len(tail)-4])); err != nil || got.RSS != 0 || got.Threads != 5 {
		t.Errorf("a stat cut before RSS: %+v, %v; want RSS 0, the rest read", got, err)
	}
	if !(Stat{State: 'Z'}).Exited() || !(Stat{State: 'X'}).Exited() || (Stat{State: 'S'}).Exited() {
		t.Error("Exited: Z and X have exited, S has not")
	}
}

// TestDescendants: a shell's child and grandchild are below it, and
// nothing else is.
func TestDescendants(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 30 & sh -c 'sleep 31; true' & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var got []int
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if got = Descendants(cmd.Process.Pid); len(got) == 3 {
			break
		}
	}
	if len(got) != 3 {
		t.Fatalf("Descendants(%d) = %v; want the sleep, the inner sh and its sleep", cmd.Process.Pid, got)
	}
	for _, p := range got {
		if p == cmd.Process.Pid || p == os.Getpid() {
			t.Errorf("Descendants lists %d, not below the shell", p)
		}
	}
	for _, p := range Descendants(got[0]) {
		t.Errorf("a sleep has descendant %d", p)
	}
	for _, p := range got {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

func TestStartTimeAndAlive(t *testing.T) {
	start, err := StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(os.Getpid(), start) || !Running(os.Getpid()) {
		t.Fatal("own process not alive with its own start time")
	}
	if Alive(os.Getpid(), start+1) {
		t.Fatal("a different start time must mean another process (PID reuse)")
	}
	// A process whose command name holds ") (" must still parse.
	odd := filepath.Join(t.TempDir(), "a) (b")
	if err := os.Symlink("/bin/sleep", odd); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	s, err := Read(pid)
	if err != nil || s.StartTime < start || s.PPID != os.Getpid() {
		t.Fatalf("stat of %q = %+v, %v (our start %d, pid %d)", odd, s, err, start, os.Getpid())
	}
	cmd.Process.Kill()
	// Killed but not reaped: a zombie, which is not alive.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if st, err := Read(pid); err != nil || st.Exited() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still runs 5s after SIGKILL", pid)
		}
	}
	if Alive(pid, s.StartTime) || Running(pid) {
		t.Fatal("a zombie must not be alive")
	}
	cmd.Wait()
	if Alive(pid, s.StartTime) || Running(pid) {
		t.Fatal("a reaped process must not be alive")
	}
	if _, err := Read(pid); err == nil {
		t.Fatal("stat of a reaped process must fail")
	}
}

func TestStatusField(t *testing.T) {
	if v, err := StatusField(StatusPath(os.Getpid()), "Pid"); err != nil || v != strconv.Itoa(os.Getpid()) {
		t.Errorf("Pid of this process = %q, %v; want %d", v, err, os.Getpid())
	}
	if v, err := StatusField("/proc/self/status", "NoSuchField"); err == nil || !strings.Contains(err.Error(), "/proc/self/status has no field NoSuchField") {
		t.Errorf("a missing field = %q, %v; want an error naming file and field", v, err)
	}
	if _, err := StatusField(filepath.Join(t.TempDir(), "status"), "Pid"); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v, want not-exist", err)
	}
}
