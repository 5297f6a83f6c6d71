package security

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// TestWorkdirIntoCallerDirectories: `--workdir /proc/1/cwd` (and
// /proc/1/root) must not start the workload in the caller's or the init's
// host directory. Either the run is refused, or the workload's directory
// shows nothing of the host.
func TestWorkdirIntoCallerDirectories(t *testing.T) {
	e := newEnv(t)
	secretDir := t.TempDir()
	secret := "host-secret-" + testutil.RandHex(4)
	if err := os.WriteFile(filepath.Join(secretDir, secret), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, wd := range []string{"/proc/1/cwd", "/proc/1/root", "/proc/self/cwd", "/proc/1/cwd/.."} {
		r := e.nucleus(func(c *exec.Cmd) { c.Dir = secretDir },
			"run", "--workdir", wd, "-v", probeDir+":/probe:ro", "--", probePath,
			"cwd", "stat,"+secret, "dot=readdir,.", "up=stat,../"+filepath.Base(secretDir)+"/"+secret)
		if r.code != 0 {
			t.Logf("--workdir %s: refused (exit %d): %s", wd, r.code, strings.TrimSpace(r.err))
			continue
		}
		got := decode(t, r.out)
		t.Logf("--workdir %s: %v", wd, got)
		if got["stat"] != "ENOENT" || got["up"] != "ENOENT" {
			t.Errorf("--workdir %s: the workload reaches the caller's directory: %v", wd, got)
		}
		if strings.Contains(got["cwd"], secretDir) {
			t.Errorf("--workdir %s: cwd is the caller's %s", wd, got["cwd"])
		}
	}
}

// TestTerminalInjection: with a terminal (nucleus run with a tty on
// stdin), TIOCSTI and TIOCLINUX are refused, and nothing arrives in the
// input of the caller's terminal. The control runs the same probe on the
// host terminal directly, where TIOCSTI works (when the kernel allows it
// at all: dev.tty.legacy_tiocsti).
func TestTerminalInjection(t *testing.T) {
	e := newEnv(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	out := make(chan string, 1)
	go func() { b, _ := io.ReadAll(ptmx); out <- string(b) }()
	r := e.nucleus(func(c *exec.Cmd) {
		c.Stdin, c.Stdout, c.Stderr = tty, tty, tty
	}, "run", "-v", probeDir+":/probe:ro", "--", probePath, "isatty", "tiocsti", "tioclinux")
	if r.code != 0 {
		t.Fatalf("nucleus run with a terminal: exit %d", r.code)
	}
	// What a shell on the caller's terminal would read next.
	injected := pending(t, tty)
	tty.Close()
	var report string
	select {
	case report = <-out:
	case <-time.After(5 * time.Second):
		t.Fatal("no output on the terminal")
	}
	got := decode(t, report)
	if got["isatty"] != "ok" {
		t.Errorf("the workload has no terminal (isatty %s): the test proves nothing", got["isatty"])
	}
	check(t, got, []attempt{{"tiocsti", "tiocsti", eperm}, {"tioclinux", "tioclinux", eperm}})
	if injected != "" {
		t.Errorf("characters injected into the caller's terminal: %q", injected)
	}

	// Control: the probe on a host terminal, outside any sandbox.
	ptmx2, tty2, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx2.Close()
	defer tty2.Close()
	cmd := exec.Command(filepath.Join(probeDir, "escape-probe"), "tiocsti")
	cmd.Stdin = tty2
	b, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	ctl := decode(t, string(b))
	if legacy, _ := os.ReadFile("/proc/sys/dev/tty/legacy_tiocsti"); strings.TrimSpace(string(legacy)) == "0" {
		t.Logf("dev.tty.legacy_tiocsti=0: no control (host TIOCSTI gives %s)", ctl["tiocsti"])
	} else if ctl["tiocsti"] != "ok" || pending(t, tty2) != "x" {
		t.Errorf("control: TIOCSTI on a host terminal gave %s: the attempt itself is broken", ctl["tiocsti"])
	}
}

// pending reads what waits in a terminal's input queue, without blocking.
func pending(t *testing.T, tty *os.File) string {
	t.Helper()
	fd := int(tty.Fd())
	// Raw mode: a canonical terminal counts only complete lines.
	if _, err := term.MakeRaw(fd); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
	if err != nil || n == 0 {
		return ""
	}
	buf := make([]byte, n)
	n, _ = unix.Read(fd, buf)
	return string(buf[:max(n, 0)])
}
