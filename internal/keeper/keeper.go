// Package keeper holds the user namespace of a rootless project: one small
// process per project, started in a new user namespace that its caller maps
// (newuidmap/newgidmap from the user's range). The project's sandboxes join
// that namespace instead of each making its own, so every namespace they
// create is owned by it; the user, as its owner, then has CAP_NET_ADMIN
// over all of them and can wire them together (a veth needs that over both
// ends' owners; sibling namespaces of separate newuidmap calls never give
// it). An unprivileged process cannot pin a namespace with a bind mount,
// so the keeper's life is the pin: it outlives the supervisor that started
// it and a later one adopts it through its pid file, as the root hub's
// pinned namespace is adopted.
package keeper

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/flock"
	"nucleus/internal/procstat"
)

const (
	// Argv0 names keeper processes (leak checks look for it).
	Argv0    = "nucleus-userns-keeper"
	envStage = "NUCLEUS_USERNS_KEEPER"
	pidFile  = "keeper.pid"
)

// Keeper is a running keeper.
type Keeper struct {
	Dir string
	PID int
}

// UserNSPath is the keeper's user namespace, for sandboxes to join.
func (k Keeper) UserNSPath() string { return fmt.Sprintf("/proc/%d/ns/user", k.PID) }

// NetNSPath is the keeper's network namespace (a hub holder's hub).
func (k Keeper) NetNSPath() string { return fmt.Sprintf("/proc/%d/ns/net", k.PID) }

// ProjectDir is where the keeper of project's user namespace records
// itself under a runtime root.
func ProjectDir(run, project string) string { return filepath.Join(run, "userns", project) }

// Find returns the live keeper recorded in dir.
func Find(dir string) (Keeper, bool) {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return Keeper{}, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return Keeper{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || !procstat.Alive(pid, start) || !procstat.Running(pid) {
		return Keeper{}, false
	}
	// A recycled pid with the same start time is not possible; the command
	// line check guards against a record copied from elsewhere.
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || (string(cmd) != Argv0+"\x00"+dir+"\x00" && !strings.HasSuffix(string(cmd), "\x00"+HubArgv+"\x00"+dir+"\x00")) {
		return Keeper{}, false
	}
	return Keeper{Dir: dir, PID: pid}, true
}

// Ensure returns the keeper of dir, starting one when none runs. mapIDs
// writes the new namespace's uid and gid maps.
func Ensure(dir string, mapIDs func(pid int) error) (Keeper, error) {
	if k, ok := Find(dir); ok {
		return k, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Keeper{}, fmt.Errorf("user namespace keeper directory: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return Keeper{}, fmt.Errorf("user namespace keeper: %w", err)
	}
	defer unlock()
	if k, ok := Find(dir); ok {
		return k, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return Keeper{}, fmt.Errorf("user namespace keeper: %w", err)
	}
	goR, goW, err := os.Pipe()
	if err != nil {
		return Keeper{}, err
	}
	defer goR.Close()
	defer goW.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return Keeper{}, err
	}
	defer readyR.Close()
	defer readyW.Close()
	cmd := exec.Command(exe)
	cmd.Args = []string{Argv0, dir}
	cmd.Env = []string{envStage + "=1", "GOMAXPROCS=1", "GOGC=off"}
	cmd.Dir = "/" // pins no directory of the caller
	cmd.Stdin = goR
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, Setsid: true}
	if err := cmd.Start(); err != nil {
		return Keeper{}, fmt.Errorf("start user namespace keeper: %w", err)
	}
	go cmd.Wait() //nolint:errcheck // reaped when it is stopped; it outlives us otherwise
	pid := cmd.Process.Pid
	fail := func(err error) (Keeper, error) {
		cmd.Process.Kill()
		return Keeper{}, err
	}
	readyW.Close()
	if err := mapIDs(pid); err != nil {
		return fail(fmt.Errorf("user namespace keeper: %w", err))
	}
	if _, err := goW.Write([]byte{1}); err != nil {
		return fail(fmt.Errorf("user namespace keeper: %w", err))
	}
	if err := awaitReady(readyR, dir, pid); err != nil {
		return fail(fmt.Errorf("user namespace keeper: %w", err))
	}
	return Keeper{Dir: dir, PID: pid}, nil
}

// lockDir serialises starting the keeper of dir: sandboxes of a project
// start in parallel, and two keepers started at once would each record
// itself in turn, leaving one that nothing finds (and stops at down).
func lockDir(dir string) (func(), error) {
	return flock.Lock(filepath.Join(dir, "lock"), unix.LOCK_EX)
}

// awaitReady waits for "ok" on the ready pipe and records pid in dir.
func awaitReady(readyR *os.File, dir string, pid int) error {
	readyR.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	n, _ := readyR.Read(buf)
	if msg := string(buf[:n]); msg != "ok\n" {
		if msg == "" {
			msg = "exited or timed out before it was ready"
		}
		return errors.New(strings.TrimSpace(msg))
	}
	start, err := procstat.StartTime(pid)
	if err != nil {
		return err
	}
	rec := fmt.Sprintf("%d %d\n", pid, start)
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(rec), 0o600); err != nil {
		return fmt.Errorf("record %s: %w", dir, err)
	}
	return nil
}

// HubArgv names hub holders in their command line.
const HubArgv = "nucleus-hub-holder"

// EnsureHub returns the holder of a network namespace made inside the user
// namespace of keeper k (a rootless hub), starting one in dir when none
// runs. An unprivileged process can make it only from inside k's namespace:
// nsenter joins it, unshare makes the network namespace, and this binary
// then waits there, as the hub's pin.
func EnsureHub(dir string, k Keeper) (Keeper, error) {
	if h, ok := Find(dir); ok {
		return h, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Keeper{}, fmt.Errorf("hub holder directory: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return Keeper{}, fmt.Errorf("hub holder: %w", err)
	}
	defer unlock()
	if h, ok := Find(dir); ok {
		return h, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return Keeper{}, fmt.Errorf("hub holder: %w", err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return Keeper{}, err
	}
	defer readyR.Close()
	defer readyW.Close()
	cmd := exec.Command("nsenter", "--user="+k.UserNSPath(), "--preserve-credentials", "--",
		"unshare", "--net", "--", exe, HubArgv, dir)
	cmd.Env = []string{envStage + "=hub", "GOMAXPROCS=1", "GOGC=off", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Keeper{}, fmt.Errorf("start hub holder: %w", err)
	}
	go cmd.Wait() //nolint:errcheck // reaped when stopped
	readyW.Close()
	// nsenter and unshare exec in place: the pid stays the holder's.
	if err := awaitReady(readyR, dir, cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		return Keeper{}, fmt.Errorf("hub holder: %w", err)
	}
	return Keeper{Dir: dir, PID: cmd.Process.Pid}, nil
}

// Stop ends the keeper of dir (its namespace goes when the last sandbox in
// it has gone too) and removes dir.
func Stop(dir string) error {
	if k, ok := Find(dir); ok {
		if err := unix.Kill(k.PID, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("stop user namespace keeper %d: %w", k.PID, err)
		}
		for i := 0; i < 500 && procstat.Running(k.PID); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// MaybeRun runs the keeper when this process was started as one, and
// never returns then. Call it first in main (and TestMain).
//
// Stage 1 starts unmapped, so without capabilities in its namespace; once
// the caller has written the maps it executes itself again, which makes
// it root of the namespace with every capability there (stage 2).
func MaybeRun() {
	switch os.Getenv(envStage) {
	case "":
		return
	case "1":
		var b [1]byte
		if n, _ := os.Stdin.Read(b[:]); n != 1 {
			os.Exit(1) // the caller gave up
		}
		env := []string{envStage + "=2", "GOMAXPROCS=1", "GOGC=off"}
		err := syscall.Exec("/proc/self/exe", os.Args, env)
		fmt.Fprintf(os.NewFile(3, "ready"), "exec stage 2: %v\n", err)
		os.Exit(1)
	}
	ready := os.NewFile(3, "ready")
	if os.Getenv(envStage) == "hub" {
		os.Setenv(envStage, "") // nothing this process starts is a keeper
	}
	if uid := os.Geteuid(); uid != 0 {
		fmt.Fprintf(ready, "runs as uid %d in its namespace, not 0: are the maps written?\n", uid)
		os.Exit(1)
	}
	ready.WriteString("ok\n")
	ready.Close()
	os.Stdin.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err == nil {
		unix.Dup2(int(devnull.Fd()), 0)
	}
	for {
		unix.Pause()
	}
}
