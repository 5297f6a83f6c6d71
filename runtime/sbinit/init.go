package sbinit

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"nucleus/internal/sysmonslack"
)

// InitArg is argv[1] of the re-executed binary when it runs as a sandbox
// init. The binary's main (or TestMain) calls IsInit/Main first thing.
const InitArg = "__nucleus_init"

// ctlFD is the control socket's fd number in the init (first ExtraFile).
const ctlFD = 3

// IsInit reports whether this process was started as a sandbox init.
func IsInit() bool { return len(os.Args) > 1 && os.Args[1] == InitArg }

// Main runs the sandbox init and never returns.
func Main() {
	trace("init: main")
	// Before anything else: nothing in the sandbox may ptrace us or open
	// /proc/1/exe (the host binary) — see README, CVE-2019-5736.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// Inherited fds other than 0-2 and the control socket never reach the workload.
	_ = unix.CloseRange(ctlFD+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	unix.CloseOnExec(ctlFD)
	code := runInit()
	os.Exit(code)
}

// initState is the init's view of the sandbox while it runs.
type initState struct {
	cfg      *Config
	fds      []int
	spawner  *spawner
	workload int // pid inside the sandbox
	// users are the spawners of exec -u, one per user (user.go).
	usersMu sync.Mutex
	users   map[string]*spawner
	logs    *logSink
	console int // pty slave of a Terminal workload
}

func runInit() int {
	fail := func(err error) int {
		_ = Send(ctlFD, &Message{Kind: MsgError, Err: err.Error()})
		return 1
	}
	// Signals are queued from the start so none is lost before the workload
	// runs. Setting up the handlers takes a while in a fresh process, so it
	// overlaps with waiting for the config; the workload starts only after.
	sigs := make(chan os.Signal, 32)
	sigReady := make(chan struct{})
	go func() {
		signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
		close(sigReady)
		sysmonslack.Quiet() // here too off the main thread's path
	}()
	trace("init: waiting for config")
	m, fds, err := Recv(ctlFD)
	if err != nil {
		return 1
	}
	trace("init: config decoded")
	if m.Kind != MsgConfig || m.Config == nil {
		return fail(fmt.Errorf("init: expected config message, got %q", m.Kind))
	}
	// The spawner's thread is started now, so that the runtime creates it
	// while this thread builds the root (it shares the root: CLONE_FS).
	st := &initState{cfg: m.Config, fds: fds, spawner: newSpawner()}
	trace("init: config received")
	if err := setRlimits(st.cfg.Rlimits); err != nil {
		return fail(err)
	}
	if !st.cfg.HostNetNS {
		if err := loopbackUp(); err != nil {
			return fail(err)
		}
	}
	writable, err := buildRoot(st.cfg, fds)
	if err != nil {
		return fail(err)
	}
	trace("init: root built")
	if st.cfg.CgroupLater {
		if err := st.recvCgroup(); err != nil {
			return fail(err)
		}
		fds = st.fds
	}
	if err := st.spawner.restrict(st.cfg, fds); err != nil {
		return fail(err)
	}
	trace("init: restricted")
	var consoleFDs []int
	if st.cfg.Terminal {
		master, slave, err := openConsole()
		if err != nil {
			return fail(err)
		}
		st.console = slave
		consoleFDs = []int{master}
		defer unix.Close(master)
	}
	if err := Send(ctlFD, &Message{Kind: MsgReady, ABI: st.spawner.landlockABI, Writable: writable}, consoleFDs...); err != nil {
		return 1
	}
	m, _, err = Recv(ctlFD)
	if err != nil || m.Kind != MsgStart {
		// The caller went away or changed its mind before Start.
		return 1
	}
	<-sigReady
	pid, err := st.startWorkload()
	if err != nil {
		return fail(err)
	}
	st.workload = pid
	if c := st.cfg; c.FDListener >= 0 && c.FDListener < len(fds) {
		go st.serveExec(fds[c.FDListener])
	}
	trace("init: workload started")
	_ = Send(ctlFD, &Message{Kind: MsgStarted, PID: pid})
	status := st.loop(sigs)
	trace("init: workload exited")
	if st.logs != nil {
		st.logs.close()
	}
	if st.cfg.FDExitFile >= 0 && st.cfg.FDExitFile < len(fds) {
		_, _ = unix.Write(fds[st.cfg.FDExitFile], status.appendJSON(nil))
	}
	_ = Send(ctlFD, &Message{Kind: MsgExit, Status: &status})
	return status.Code
}

// recvCgroup takes the v1 cgroup's tasks files sent after the config.
func (st *initState) recvCgroup() error {
	m, cfds, err := Recv(ctlFD)
	if err != nil {
		return err
	}
	if m.Kind != MsgCgroup {
		CloseAll(cfds)
		return fmt.Errorf("init: expected cgroup message, got %q", m.Kind)
	}
	for _, fd := range cfds {
		st.cfg.FDCgroupTasks = append(st.cfg.FDCgroupTasks, len(st.fds))
		st.fds = append(st.fds, fd)
	}
	return nil
}

// startWorkload forks the workload from the restricted thread.
func (st *initState) startWorkload() (int, error) {
	c := st.cfg
	files := []uintptr{0, 1, 2}
	if c.Terminal {
		files = []uintptr{uintptr(st.console), uintptr(st.console), uintptr(st.console)}
	}
	if c.Logs {
		ls, err := newLogSink(st.fds[c.FDLogDir], c.LogMaxSize)
		if err != nil {
			return 0, err
		}
		st.logs = ls
		// No fallback: fd 0 of the init is the host side's stdin.
		null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, fmt.Errorf("open /dev/null for the workload's stdin: %w", err)
		}
		defer unix.Close(null)
		files = []uintptr{uintptr(null), ls.stdoutW.Fd(), ls.stderrW.Fd()}
	}
	pid, err := st.spawner.spawn(spawnReq{args: c.Args, env: c.Env, dir: c.Dir, files: files, ctty: c.Terminal})
	if c.Logs {
		st.logs.startedChild()
	}
	if c.Terminal {
		unix.Close(st.console)
	}
	return pid, err
}

// loop reaps children and forwards signals until the workload exits.
func (st *initState) loop(sigs chan os.Signal) ExitStatus {
	for sig := range sigs {
		if sig != unix.SIGCHLD {
			_ = unix.Kill(st.workload, sig.(syscall.Signal))
			continue
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if pid <= 0 || err != nil {
				break
			}
			if pid == st.workload {
				return StatusOf(ws)
			}
			st.spawner.reaped(pid, ws)
		}
	}
	return ExitStatus{Code: 255}
}

// appendJSON is encoding/json's form of s, written by hand: it is on the
// way out of every sandbox, and a first json.Marshal costs a fresh process
// its reflection set-up.
func (s ExitStatus) appendJSON(b []byte) []byte {
	b = append(b, `{"Code":`...)
	b = strconv.AppendInt(b, int64(s.Code), 10)
	b = append(b, `,"Signal":`...)
	b = strconv.AppendInt(b, int64(s.Signal), 10)
	b = append(b, `,"OOMKilled":`...)
	b = strconv.AppendBool(b, s.OOMKilled)
	return append(b, '}')
}

func StatusOf(ws unix.WaitStatus) ExitStatus {
	if ws.Signaled() {
		return ExitStatus{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	}
	return ExitStatus{Code: ws.ExitStatus()}
}
