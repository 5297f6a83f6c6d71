package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"nucleus/runtime/sbinit"
)

func TestExecSameConfinement(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	svc := service("/bin/busybox", "sleep", "100")
	svc.Process.Env = map[string]string{"FROM_SERVICE": "yes"}
	sb := startSandbox(t, Config{ID: "exec", Root: root, Service: svc, Stdout: os.Stderr,
		Mounts: []ResolvedMount{probeMount(t)}})
	var out, errb bytes.Buffer
	st, err := sb.Exec(ctx, ExecConfig{Args: []string{"/probe/probe"}, Stdout: &out, Stderr: &errb})
	if err != nil || st.Code != 0 {
		t.Fatalf("exec probe: %+v %v %s", st, err, errb.String())
	}
	var r map[string]string
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("probe output %q: %v", out.String(), err)
	}
	for k, v := range map[string]string{"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "NoNewPrivs": "1",
		"Seccomp": "2", "fds": "0,1,2", "mount": "EPERM", "write_dev": "EACCES", "hostname": "t"} {
		if r[k] != v {
			t.Errorf("exec'd process: %s = %q, want %q", k, r[k], v)
		}
	}
	if !strings.HasPrefix(r["pid1"], "nucleus-init") {
		t.Errorf("exec'd process sees PID 1 %q: not in the sandbox's pid namespace", r["pid1"])
	}
	out.Reset()
	st, err = sb.Exec(ctx, ExecConfig{Args: []string{"/bin/busybox", "sh", "-c", "echo $FROM_SERVICE $EXTRA; cat; exit 3"},
		Env: []string{"EXTRA=1"}, Stdin: strings.NewReader("piped"), Stdout: &out})
	if err != nil || st.Code != 3 || out.String() != "yes 1\npiped" {
		t.Errorf("exec with env and stdin: %+v %v %q", st, err, out.String())
	}
	if _, err := sb.Exec(ctx, ExecConfig{Args: []string{"/nonexistent"}}); err == nil {
		t.Error("exec of a missing binary succeeded")
	}
}

// TestLogsSurviveCallerAndAdopt: output goes to log files the init writes,
// so it keeps flowing without the caller; a new caller adopts the sandbox
// from its record and gets the exit status.
func TestLogsSurviveCallerAndAdopt(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	svc := service("/bin/busybox", "sh", "-c", "echo out1; echo err1 >&2; sleep 0.4; echo out2; exit 5")
	sb, err := Create(ctx, Config{ID: "logs", Root: root, Project: "p", Service: svc, LogMaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		sb.Remove(ctx)
		t.Fatal(err)
	}
	// The original caller goes away: close its end of the control socket.
	sb.ctl.Close()
	sb.ctl = nil
	rec, err := ReadRecord(root, "logs")
	if err != nil {
		t.Fatal(err)
	}
	ad, err := Adopt(root, rec)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if stats, err := ad.Stats(); err != nil || stats.Pids == 0 {
		t.Errorf("adopted stats: %+v %v", stats, err)
	}
	st, err := ad.Wait()
	if err != nil || st.Code != 5 {
		t.Errorf("adopted wait: %+v %v, want exit 5", st, err)
	}
	f, err := os.Open(rec.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var lr sbinit.LogRecord
		if err := json.Unmarshal(sc.Bytes(), &lr); err != nil || lr.Time.IsZero() {
			t.Errorf("log record %q: %v", sc.Text(), err)
		}
		lines = append(lines, lr.Stream+":"+lr.Line)
	}
	f.Close()
	if got := strings.Join(lines, ","); !strings.Contains(got, "stdout:out1") || !strings.Contains(got, "stderr:err1") || !strings.Contains(got, "stdout:out2") {
		t.Errorf("log records %q", got)
	}
	// The original handle still owns the child process; reap it, then clean up.
	_, _ = sb.proc.wait()
	if err := ad.Remove(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLogRotation(t *testing.T) {
	root := newRoot(t)
	svc := service("/bin/busybox", "sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done")
	sb := startSandbox(t, Config{ID: "rot", Root: root, Service: svc, LogMaxSize: 4096})
	if _, err := sb.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{sb.LogPath(), sb.LogPath() + ".1", sb.LogPath() + ".3"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("log file %s: %v", p, err)
			continue
		}
		if fi.Size() > 4096 {
			t.Errorf("log file %s is %d bytes, limit 4096", p, fi.Size())
		}
	}
	if _, err := os.Stat(sb.LogPath() + ".4"); err == nil {
		t.Error("more than 3 rotated files kept")
	}
	b, _ := os.ReadFile(sb.LogPath())
	if !bytes.Contains(b, []byte("line-299-")) {
		t.Errorf("last line missing from the current log: %q", b)
	}
}

// TestAdoptRunningThenStop: a supervisor restarted while the sandbox runs
// adopts it, execs into it and stops it; nothing is left.
func TestAdoptRunningThenStop(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	svc := service("/bin/busybox", "sh", "-c", "trap '' TERM; echo up; while :; do sleep 1; done")
	sb, err := Create(ctx, Config{ID: "adopt", Root: root, Project: "p", Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		sb.Remove(ctx)
		t.Fatal(err)
	}
	sb.ctl.Close() // the first supervisor dies
	rec, err := ReadRecord(root, "adopt")
	if err != nil {
		t.Fatal(err)
	}
	ad, err := Adopt(root, rec)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if st, err := ad.Exec(ctx, ExecConfig{Args: []string{"/bin/busybox", "echo", "adopted"}, Stdout: &out}); err != nil || st.Code != 0 || out.String() != "adopted\n" {
		t.Errorf("exec in adopted sandbox: %+v %v %q", st, err, out.String())
	}
	start := time.Now()
	if err := ad.Stop(ctx, 0, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Error("stop did not wait the grace period for a TERM-ignoring workload")
	}
	_, _ = sb.proc.wait() // reap as the original parent
}

// TestExecCancelKills: when the caller gives up (a health check timeout),
// the exec'd process and its children are killed; the workload runs on.
func TestExecCancelKills(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	sb := startSandbox(t, Config{ID: "cancel", Root: root, Service: service("/bin/busybox", "sleep", "100"), Stdout: os.Stderr})
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := sb.Exec(cctx, ExecConfig{Args: []string{"/bin/busybox", "sh", "-c", "sleep 100 & sleep 100"}})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("exec past its deadline: err %v after %v", err, time.Since(start))
	}
	// Only the init, the workload's sleep and nothing of the exec remain.
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, err := sb.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Pids <= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tasks in the sandbox after the exec was cancelled, want the workload alone", st.Pids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := sb.Signal(0); err != nil {
		t.Errorf("the workload ended with the exec: %v", err)
	}
}
