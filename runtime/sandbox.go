package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/runtime/cgroups"
	"nucleus/runtime/sbinit"
)

// Sandbox is a created sandbox.
type Sandbox struct {
	id   string
	cfg  Config
	root rootdir.Root
	dir  string

	proc      initProc     // nil when adopted
	initExec  func() error // spawnInit's exec still to be awaited
	copies    *sync.WaitGroup
	pid       int    // host pid of the init
	startTime uint64 // of the init, to recognise it after pid reuse
	ctl       *os.File
	cg        *cgroups.Cgroup
	limits    Limits
	// Without a cgroup: the limits set that nothing enforces, and why.
	notEnforced    []string
	notEnforcedWhy string
	hostUID        int // base of the private id range; 0 = userns host
	idmapped       bool
	writable       string // the root's writable layer (sbinit.Writable*), "" = read-only
	shifted        string // the rootfs's shifted copy in use (shifted.go), "" = none
	shiftUnlock    func() // held from making the copy until the record names it
	// sub is the rootless mapping (container root = hostUID, the user);
	// nil as root.
	sub *subIDs

	seccompMode string
	landlockABI int

	tty    *os.File
	ioDone chan struct{}

	mu       sync.Mutex
	started  bool
	workload int // pid of the workload inside the sandbox
	reaped   bool
	initWS   unix.WaitStatus

	waitOnce sync.Once
	done     chan struct{}
	status   ExitStatus
	waitErr  error
}

// ID returns the sandbox id.
func (s *Sandbox) ID() string { return s.id }

// PID is the host pid of the sandbox init.
func (s *Sandbox) PID() int { return s.pid }

// NetNSPath is the sandbox's network namespace, for attaching networks.
func (s *Sandbox) NetNSPath() string { return fmt.Sprintf("/proc/%d/ns/net", s.pid) }

// SeccompMode is the display mode of the sandbox's seccomp filter.
func (s *Sandbox) SeccompMode() string { return s.seccompMode }

// LandlockABI is the Landlock ABI in force (0 = off).
func (s *Sandbox) LandlockABI() int { return s.landlockABI }

// Writable is the root's writable layer: sbinit.WritableUpper (on disk in
// Config.UpperDir), sbinit.WritableTmpfs, or "" for a read-only root.
func (s *Sandbox) Writable() string { return s.writable }

// LogPath is the current log file when the output is not attached.
func (s *Sandbox) LogPath() string { return filepath.Join(s.logDir(), sbinit.LogFile) }

// logDir is Config.LogDir, or logs/ in the state directory.
func (s *Sandbox) logDir() string {
	if s.cfg.LogDir != "" {
		return s.cfg.LogDir
	}
	return filepath.Join(s.dir, "logs")
}

// Start runs the workload.
func (s *Sandbox) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("sandbox %s: already started", s.id)
	}
	if s.ctl == nil {
		return fmt.Errorf("sandbox %s: no control connection (adopted sandboxes run already)", s.id)
	}
	if err := sbinit.Send(int(s.ctl.Fd()), &sbinit.Message{Kind: sbinit.MsgStart}); err != nil {
		return err
	}
	m, _, err := sbinit.Recv(int(s.ctl.Fd()))
	if err != nil {
		return fmt.Errorf("sandbox %s: init died while starting the workload: %w", s.id, err)
	}
	if m.Kind == sbinit.MsgError {
		return fmt.Errorf("start %s: %s", s.id, m.Err)
	}
	if m.Kind != sbinit.MsgStarted {
		return fmt.Errorf("sandbox init: expected started, got %q", m.Kind)
	}
	s.started, s.workload = true, m.PID
	trace("started")
	protectInit(s.pid)
	s.mu.Unlock()
	err = s.writeRecord()
	s.mu.Lock()
	return err
}

// Wait blocks until the workload has exited and returns its status. It may
// be called several times and from several goroutines.
func (s *Sandbox) Wait() (ExitStatus, error) {
	s.waitOnce.Do(func() {
		s.status, s.waitErr = s.wait()
		trace("waited")
		close(s.done)
	})
	<-s.done
	return s.status, s.waitErr
}

func (s *Sandbox) wait() (ExitStatus, error) {
	var st *ExitStatus
	if s.ctl != nil {
		for {
			m, _, err := sbinit.Recv(int(s.ctl.Fd()))
			if err != nil {
				break
			}
			if m.Kind == sbinit.MsgExit {
				st = m.Status
				trace("exit message")
			}
		}
	}
	trace("ctl EOF")
	var initStatus ExitStatus
	if s.proc != nil {
		if !s.reaped {
			ws, err := s.proc.wait()
			if err != nil {
				return ExitStatus{}, fmt.Errorf("wait for sandbox init: %w", err)
			}
			s.reaped, s.initWS = true, ws
		}
		initStatus = sbinit.StatusOf(s.initWS)
	} else if err := waitPidfd(s.pid, s.startTime); err != nil {
		return ExitStatus{}, err
	}
	if s.ioDone != nil {
		select {
		case <-s.ioDone:
		case <-time.After(100 * time.Millisecond):
		}
	}
	if st == nil {
		// Adopted, or the init was killed: the exit file is the record.
		if b, err := os.ReadFile(filepath.Join(s.dir, "exit.json")); err == nil && len(b) > 0 {
			var fs ExitStatus
			if json.Unmarshal(b, &fs) == nil {
				st = &fs
			}
		}
	}
	if st == nil {
		st = &initStatus
		if s.proc == nil {
			st = &ExitStatus{Code: 137, Signal: unix.SIGKILL}
		}
	}
	// The OOM killer may have killed the main process or any other one:
	// the cgroup's counter says, whoever it was.
	if s.cg != nil {
		if n, err := s.cg.OOMKills(); err == nil {
			st.OOMKills = n
			st.OOMKilled = n > 0 && st.Signal == unix.SIGKILL
		}
	}
	return *st, nil
}

// Done is closed when Wait has returned.
func (s *Sandbox) Done() <-chan struct{} { return s.done }

// MemoryLimit is the memory limit the sandbox was created with (for messages).
func (s *Sandbox) MemoryLimit() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limits.Memory
}

// Signal sends sig to the workload.
func (s *Sandbox) Signal(sig syscall.Signal) error {
	pid, err := s.workloadHostPID()
	if err != nil {
		return err
	}
	if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
		return fmt.Errorf("signal workload of %s: %w", s.id, err)
	}
	return nil
}

// workloadHostPID finds the workload among the init's children by its pid
// inside the sandbox (NSpid).
func (s *Sandbox) workloadHostPID() (int, error) {
	s.mu.Lock()
	inner := s.workload
	s.mu.Unlock()
	if inner == 0 {
		return 0, fmt.Errorf("sandbox %s: workload not started", s.id)
	}
	// The workload is a child of the init's spawner thread, so look at the
	// children of every thread.
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", s.pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("sandbox %s: init is gone", s.id)
	}
	var b []byte
	for _, t := range tasks {
		c, _ := os.ReadFile(t)
		b = append(append(b, c...), ' ')
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		v, err := procstat.StatusField(procstat.StatusPath(pid), "NSpid")
		if err != nil {
			continue
		}
		if ids := strings.Fields(v); len(ids) > 1 && ids[len(ids)-1] == strconv.Itoa(inner) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("sandbox %s: workload has exited", s.id)
}

// Stop ends the sandbox: sig to the workload, up to grace for it to exit,
// then SIGKILL to every process of the cgroup; then removes the cgroup and
// the state. It returns once nothing of the sandbox is left.
func (s *Sandbox) Stop(ctx context.Context, sig syscall.Signal, grace time.Duration) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		go func() { _, _ = s.Wait() }()
		select {
		case <-s.done:
		default:
			if sig == 0 {
				sig = unix.SIGTERM
			}
			_ = s.Signal(sig)
			t := time.NewTimer(grace)
			select {
			case <-s.done:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
	return s.destroy(ctx)
}

// Remove deletes what is left of an exited sandbox (cgroup, state). Any
// process still in the cgroup is killed first.
func (s *Sandbox) Remove(ctx context.Context) error { return s.destroy(ctx) }

func (s *Sandbox) destroy(ctx context.Context) error {
	trace("destroy")
	defer trace("destroyed")
	var errs []error
	if s.cg != nil {
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s.cg.KillAll(kctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	// The init itself, cgroup or not: on v1 only its spawner thread joins
	// the cgroup, once Create sent it the cgroup's files, so a Create that
	// fails before (a state root out of space) leaves it outside. As PID 1
	// of its namespace it takes every process inside along.
	if s.pid > 0 && s.proc != nil {
		select {
		case <-s.done: // reaped: the pid is not ours any more
		default:
			_ = unix.Kill(s.pid, unix.SIGKILL)
		}
	} else if s.pid > 0 && s.cg == nil {
		// Adopted without a cgroup (manager none): the init, if it is still
		// the recorded process, takes its PID namespace along.
		killPidfd(s.pid, s.startTime)
	}
	if s.proc != nil {
		_, _ = s.Wait() // once only; also orders the close of ctl below after its use
	} else if s.pid > 0 {
		_ = waitPidfd(s.pid, s.startTime)
	}
	if s.ctl != nil {
		s.ctl.Close()
	}
	if s.tty != nil {
		s.tty.Close()
	}
	trace("killed")
	// The init is gone: the state directory and the cgroup go in parallel.
	removed := make(chan error, 1)
	go func() { removed <- os.RemoveAll(s.dir) }()
	if s.cg != nil {
		if err := s.cg.Delete(); err != nil {
			errs = append(errs, err)
		}
	}
	trace("cgroup deleted")
	if err := <-removed; err != nil {
		errs = append(errs, fmt.Errorf("remove state of %s: %w", s.id, err))
	}
	// Its shifted copy goes when no other sandbox uses it (own lock first:
	// flock would wait for it).
	s.unlockShifted()
	if s.shifted != "" {
		if err := releaseShifted(s.root.Run, s.id, s.shifted); err != nil {
			errs = append(errs, err)
		}
	}
	_, serr := os.Stat(sandboxDir(s.root.Run, s.id))
	if s.cfg.Project == "" && s.hostUID != 0 && s.sub == nil && (s.dir != "" || os.IsNotExist(serr)) {
		// The sandbox's own project ("_<id>", no Config.Project) goes with
		// it: give its id range back to the host (unless Create failed
		// because another sandbox has this id: the range is that one's).
		if err := ReleaseProjectIDRange(s.root, "_"+s.id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stats reads CPU, memory and pids usage from the cgroup, in the terms of
// the limits the sandbox was given (see cgroupLimits).
func (s *Sandbox) Stats() (Stats, error) {
	if s.cg == nil {
		return Stats{}, errNoCgroup(s.id)
	}
	st, err := s.cg.Stats()
	if err != nil {
		return st, err
	}
	return workloadStats(st, s.cg.V2()), nil
}

// UpdateResources changes the cgroup limits of the running sandbox.
func (s *Sandbox) UpdateResources(r Limits) error {
	if s.cg == nil {
		// Nothing to apply them to: the record says they are not enforced.
		s.mu.Lock()
		s.limits = r
		s.notEnforced, s.notEnforcedWhy = cgroups.NotEnforced(r)
		s.mu.Unlock()
		return s.writeRecord()
	}
	if err := s.cg.Update(cgroupLimits(r, s.cg.V2())); err != nil {
		return err
	}
	s.mu.Lock()
	s.limits = r
	s.mu.Unlock()
	return nil
}

// Resize sets the pseudo-terminal's window size (Terminal sandboxes).
func (s *Sandbox) Resize(rows, cols uint16) error {
	if s.tty == nil {
		return nil
	}
	return unix.IoctlSetWinsize(int(s.tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

// Terminal returns the pseudo-terminal master (nil without a terminal).
func (s *Sandbox) Terminal() *os.File { return s.tty }

// errNoCgroup is the error of what needs the cgroup of a sandbox that has
// none (cgroup manager none).
func errNoCgroup(id string) error {
	return fmt.Errorf("sandbox %s has no cgroup (its limits are not enforced)", id)
}
