package procstat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tail := " 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100"
	for _, c := range []struct {
		in      string
		want    Stat
		wantErr bool
	}{
		{in: "42 (sleep) S 7" + tail, want: Stat{State: 'S', PPID: 7, Flags: 4194560, StartTime: 987654, UTime: 1, STime: 2}},
		{in: "42 (a) (b) Z 1" + tail, want: Stat{State: 'Z', PPID: 1, Flags: 4194560, StartTime: 987654, UTime: 1, STime: 2}},
		{in: "42 (x y)) R 3" + tail + "\n", want: Stat{State: 'R', PPID: 3, Flags: 4194560, StartTime: 987654, UTime: 1, STime: 2}},
		{in: "42 sleep S 7" + tail, wantErr: true},
		{in: "42 (sleep) S 7 1 1", wantErr: true},
		{in: "42 (sleep) S x" + tail, wantErr: true},
	} {
		got, err := Parse([]byte(c.in))
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v (error %v)", c.in, got, err, c.want, c.wantErr)
		}
	}
	if !(Stat{State: 'Z'}).Exited() || !(Stat{State: 'X'}).Exited() || (Stat{State: 'S'}).Exited() {
		t.Error("Exited: Z and X have exited, S has not")
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
