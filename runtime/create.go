package runtime

import (
	"context"
	"errors"
	"fmt"
	"nucleus/internal/capability"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"nucleus/internal/procstat"
	"nucleus/runtime/cgroups"
	"nucleus/runtime/sbinit"
)

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// sandboxDir is the state directory of sandbox id.
func sandboxDir(run, id string) string { return filepath.Join(run, "sandboxes", id) }

// Create builds a sandbox: namespaces, cgroup, root filesystem and the init
// exist when it returns; the workload does not run until Start. Between the
// two the caller may attach networks to NetNSPath().
func Create(ctx context.Context, cfg Config) (_ *Sandbox, err error) {
	if !validID.MatchString(cfg.ID) || len(cfg.ID) > 200 {
		return nil, fmt.Errorf("sandbox id %q: must match %s", cfg.ID, validID)
	}
	svc := &cfg.Service
	if len(svc.Process.Args) == 0 {
		return nil, fmt.Errorf("sandbox %s: no command to run", cfg.ID)
	}
	s := &Sandbox{id: cfg.ID, cfg: cfg, root: cfg.Root, done: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = s.awaitInitExec()
			s.destroy(context.Background())
		}
	}()

	trace("create: begin")
	// Rootless, a sandbox always has a user namespace (nothing else lets
	// an ordinary user make the others); userns: host maps only the user.
	userns := !svc.Security.HostUserNS || Rootless()
	if Rootless() {
		m := onlyUser()
		if !svc.Security.HostUserNS {
			// Container root is the user; the rest is the user's range.
			if m, err = rootlessIDs(cfg.Root); err != nil {
				return nil, err
			}
		}
		s.sub, s.hostUID = &m, m.UID
	} else if userns {
		project := cfg.dataProject()
		if project == "" {
			project = "_" + cfg.ID
		}
		base, err := ProjectIDRange(cfg.Root, project)
		if err != nil {
			return nil, err
		}
		s.hostUID = int(base)
	}
	s.limits = svc.Limits

	// The workload's cgroup: the init's spawner thread joins it alone by
	// writing "0" to the files of cgroups.JoinFiles (opened here, by host
	// root) before it forks anything, so every process of the sandbox is
	// born there and the init's own threads never count against the
	// limits: v1 each controller's "tasks", v2 the threaded workload leaf's
	// "cgroup.threads" (cgroups.WorkloadLeaf). A thread moving itself also
	// skips the global threadgroup rwsem a cgroup.procs write takes (an RCU
	// grace period, ~10 ms here). On v2 the init process is born in the
	// sandbox cgroup (CLONE_INTO_CGROUP), which must exist first; on v1 the
	// cgroup is created while the init builds the root. So is the systemd
	// manager's scope on v2: systemd creates it around the running init
	// (cgroups.CloneInto).
	early := cgroups.CloneInto()
	if early {
		if err := s.makeState(); err != nil {
			return nil, err
		}
		if s.cg, err = cgroups.New(cfg.Root, cfg.ID, cgroupLimits(s.limits, true)); err != nil {
			return nil, err
		}
	}
	// The init is cloned as early as possible: its exec and Go runtime
	// start-up (~2 ms) overlap with everything up to sending the config.
	if err := s.startInit(userns); err != nil {
		return nil, err
	}
	trace("init started")
	if !early {
		// The v1 cgroup (or systemd scope) follows the config (see CgroupLater).
		if err := s.makeState(); err != nil {
			return nil, err
		}
	}
	// While the init's Go runtime starts: the filter, the Landlock rules and
	// the fds.
	prog, err := seccompProgram(cfg.Root, svc.Security)
	if err != nil {
		return nil, err
	}
	s.seccompMode = prog.Mode()
	trace("cgroup and seccomp ready")
	ic := &sbinit.Config{
		Args: svc.Process.Args, Env: envList(svc.Process.Env), Dir: svc.Process.WorkingDir, User: workloadUser(svc.Process.User, s.sub),
		Hostname: hostname(cfg), ReadOnly: svc.ReadOnly, Files: cfg.Files,
		HostNetNS: cfg.NoNetwork, UserNS: userns, CapAdd: capNumbers(svc.Security.CapAdd),
		Terminal: cfg.Terminal, Seccomp: prog.BPF(),
		FDRootfs: -1, FDUpper: -1, FDLogDir: -1, FDExitFile: -1, FDListener: -1,
		CgroupLater: true,
		ShmSize:     svc.ShmSize, Rlimits: svc.Ulimits,
		TimerSlack: callerTimerSlack(),
	}
	if ic.Landlock, err = landlockPlan(svc, cfg.Mounts, cfg.Files); err != nil {
		return nil, err
	}
	fds, err := s.prepareFDs(ic, userns)
	defer sbinit.CloseAll(fds)
	if err != nil {
		return nil, err
	}
	if err := s.awaitInitExec(); err != nil {
		return nil, err
	}
	if err := setUlimits(s.pid, svc.Ulimits); err != nil {
		return nil, err
	}
	if err := sbinit.Send(int(s.ctl.Fd()), &sbinit.Message{Kind: sbinit.MsgConfig, Config: ic}, fds...); err != nil {
		return nil, err
	}
	trace("config sent")
	// The init builds the root meanwhile; its spawner thread joins the
	// cgroup before it forks anything. A send that fails means the init
	// gave up: its error message is read below.
	if err := s.sendCgroup(); err != nil && !errors.Is(err, unix.EPIPE) {
		return nil, err
	}
	// The record, too, is written while the init builds the root; the
	// Landlock ABI is the one the rules were compiled for (checked below).
	if ic.Landlock != nil {
		s.landlockABI = ic.Landlock.ABI
	}
	if err := s.writeRecord(); err != nil {
		return nil, err
	}
	s.unlockShifted() // the record names the copy now
	m, mfds, err := sbinit.Recv(int(s.ctl.Fd()))
	if err != nil {
		return nil, fmt.Errorf("sandbox init died while building the sandbox: %w", s.initFailure(err))
	}
	if cfg.Terminal && m.Kind == sbinit.MsgReady {
		if len(mfds) != 1 {
			sbinit.CloseAll(mfds)
			return nil, fmt.Errorf("sandbox init sent no terminal")
		}
		s.attachConsole(os.NewFile(uintptr(mfds[0]), "pty-master"))
	}
	if m.Kind == sbinit.MsgError {
		return nil, fmt.Errorf("build sandbox %s: %s", cfg.ID, m.Err)
	}
	if m.Kind != sbinit.MsgReady {
		return nil, fmt.Errorf("sandbox init: expected ready, got %q", m.Kind)
	}
	trace("ready")
	if m.ABI != s.landlockABI || m.Writable != s.writable {
		s.landlockABI, s.writable = m.ABI, m.Writable
		if err := s.writeRecord(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// makeState runs the caller's BeforeState, then creates the state
// directory; s.dir is set only once the directory is this sandbox's own (a
// sandbox whose id is taken must not remove the other's state).
func (s *Sandbox) makeState() error {
	if s.cfg.BeforeState != nil {
		if err := s.cfg.BeforeState(); err != nil {
			return err
		}
	}
	dir := sandboxDir(s.cfg.Root.Run, s.cfg.ID)
	if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("sandbox %s already exists (state %s)", s.cfg.ID, dir)
		}
		return fmt.Errorf("create state directory: %w", err)
	}
	s.dir = dir
	return nil
}

// awaitInitExec waits for the init's exec that spawnInit left running
// (once; a no-op for an init started otherwise).
func (s *Sandbox) awaitInitExec() error {
	done := s.initExec
	s.initExec = nil
	if done == nil {
		return nil
	}
	if err := done(); err != nil {
		// spawnInit reaped it: as if no init had been started (destroy
		// must not signal or wait for a pid that is not ours any more).
		s.pid, s.proc = 0, nil
		return err
	}
	return nil
}

// sendCgroup creates the v1 cgroup or the systemd scope around the init
// (v2 cgroupfs: made before the init) and hands the files through which
// the spawner thread joins it to the init.
func (s *Sandbox) sendCgroup() error {
	if s.cg == nil && !cgroups.Enabled() {
		// No cgroup: the spawner thread joins none (the limits are
		// reported as not enforced: Record.LimitsNotEnforced).
		s.mu.Lock()
		s.notEnforced, s.notEnforcedWhy = cgroups.NotEnforced(s.limits)
		s.mu.Unlock()
		return sbinit.Send(int(s.ctl.Fd()), &sbinit.Message{Kind: sbinit.MsgCgroup})
	}
	if s.cg == nil {
		u := cgroups.Unit{PID: s.pid, Project: s.cfg.Project, Service: s.cfg.Service.Name}
		cg, err := cgroups.NewFor(s.cfg.Root, s.cfg.ID, cgroupLimits(s.limits, cgroups.V2Host()), u)
		if err != nil {
			return err
		}
		cg.WatchOOM()
		s.cg = cg
	}
	fds, err := s.cgroupTaskFDs()
	if err != nil {
		return err
	}
	defer sbinit.CloseAll(fds)
	return sbinit.Send(int(s.ctl.Fd()), &sbinit.Message{Kind: sbinit.MsgCgroup}, fds...)
}

// startInit clones the init into its new namespaces.
func (s *Sandbox) startInit(userns bool) error {
	cfg := s.cfg
	ctlParent, ctlChild, err := sbinit.SocketPair()
	if err != nil {
		return err
	}
	defer ctlChild.Close()
	s.ctl = ctlParent
	stdio, err := s.stdio()
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range stdio {
			f.Close() // the init has its own copies now
		}
	}()

	// argv names the root and the sandbox so LeakCheck can find stray inits.
	path := initBinary()
	argv := []string{"nucleus-init", sbinit.InitArg, cfg.Root.ID(), cfg.ID}
	// A lean runtime for a long-lived, mostly idle process, but two Ps:
	// with one, a goroutine made runnable while the init's only P sits with
	// a thread blocked in a syscall (the ctl socket's recvmsg, the exec
	// socket's accept, the spawner's fork and exec) waits for sysmon to
	// take the P back (20 us to 10 ms); a second P runs it at once. Measured
	// A/B in bench/results/issue15-runtime.md (+~0.15 MB peak RSS).
	env := []string{"GOMAXPROCS=2", "GOGC=off", "GOMEMLIMIT=" + strconv.Itoa(initMemory>>20) + "MiB"}
	if traceOn {
		env = append(env, "NUCLEUS_TRACE=1")
	}
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS)
	if !cfg.NoNetwork {
		flags |= unix.CLONE_NEWNET
	}
	joinFD := -1
	var nest []int
	if userns && s.sub != nil && cfg.UserNSPath != "" {
		f, err := os.Open(cfg.UserNSPath)
		if err != nil {
			return fmt.Errorf("project user namespace: %w", err)
		}
		defer f.Close()
		joinFD = int(f.Fd())
		if s.sub.keepsIDs() {
			// userns: host on the project's hub: the user's own ids, in a
			// namespace of the sandbox's own inside the project's (where
			// the user is root), so the hub can still wire it.
			flags |= unix.CLONE_NEWUSER
			nest = []int{s.sub.UID, s.sub.GID}
		}
	} else if userns {
		flags |= unix.CLONE_NEWUSER
	}
	var pdeath unix.Signal
	if cfg.DieWithCaller {
		pdeath = unix.SIGKILL
	}
	trace("clone")
	start := func() {
		if dir := s.v2Dir(); dir != "" && joinFD < 0 {
			err = s.startInitExec(path, argv, env, stdio, ctlChild, flags, pdeath, dir)
			return
		}
		var mapIDs func(int) error
		if userns && joinFD < 0 {
			mapIDs = func(pid int) error { return writeIDMaps(pid, s.hostUID, IDRangeSize) }
			if s.sub != nil {
				mapIDs = func(pid int) error { return s.sub.writeMaps(pid) }
			}
		}
		fds := [4]int{int(stdio[0].Fd()), int(stdio[1].Fd()), int(stdio[2].Fd()), int(ctlChild.Fd())}
		var pid int
		ids := idsCaller
		switch {
		case userns && s.sub != nil && s.sub.keepsIDs():
			ids = idsKeep
		case userns:
			ids = idsRoot
		}
		pid, s.initExec, err = spawnInit(path, argv, env, fds, flags, ids, pdeath, mapIDs, joinFD, nest...)
		if err == nil {
			s.pid, s.proc = pid, &rawProc{pid: pid, copies: s.copies}
		}
	}
	if pdeath != 0 {
		onCallerThread(start) // the signal follows the cloning thread
	} else {
		start()
	}
	if err != nil {
		return err
	}
	s.startTime, _ = procstat.StartTime(s.pid)
	return nil
}

// startInitExec starts the init with os/exec, which can clone straight into
// a v2 cgroup (CLONE_INTO_CGROUP through clone3).
func (s *Sandbox) startInitExec(path string, argv, env []string, stdio [3]*os.File, ctl *os.File, flags uintptr, pdeath unix.Signal, cgDir string) error {
	cmd := exec.Command(path)
	cmd.Args, cmd.Env = argv, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	cmd.ExtraFiles = []*os.File{ctl}
	attr := &syscall.SysProcAttr{Cloneflags: flags, Setsid: true, Pdeathsig: pdeath}
	if flags&unix.CLONE_NEWUSER != 0 {
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: s.hostUID, Size: IDRangeSize}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: s.hostUID, Size: IDRangeSize}}
		attr.GidMappingsEnableSetgroups = true
		// The child still has the caller's host ids (0), which are not
		// mapped inside; become the mapped root before exec or the init
		// would start without capabilities in its own namespace.
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	cgFD, err := os.Open(cgDir)
	if err != nil {
		return fmt.Errorf("open cgroup directory: %w", err)
	}
	defer cgFD.Close()
	attr.UseCgroupFD, attr.CgroupFD = true, int(cgFD.Fd())
	cmd.SysProcAttr = attr
	// The init starts with the caller's timer slack, as spawnInit's child
	// sets it, whatever thread this is.
	if err := forkWithCallerSlack(cmd.Start); err != nil {
		return fmt.Errorf("start sandbox init: %w", err)
	}
	s.pid, s.proc = cmd.Process.Pid, &cmdProc{cmd: cmd, copies: s.copies}
	return nil
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func hostname(cfg Config) string {
	if cfg.Service.Hostname != "" {
		return cfg.Service.Hostname
	}
	if cfg.Service.Name != "" {
		return cfg.Service.Name
	}
	return cfg.ID
}

func capNumbers(names []string) []int {
	var out []int
	for _, n := range names {
		if _, num, err := capability.Parse(n); err == nil {
			out = append(out, num)
		}
	}
	return out
}

// initFailure explains why the init went away: its exit status if it has one.
func (s *Sandbox) initFailure(err error) error {
	if s.proc != nil {
		var ws unix.WaitStatus
		if pid, _ := unix.Wait4(s.pid, &ws, unix.WNOHANG, nil); pid == s.pid {
			s.reaped = true
			return fmt.Errorf("%w (init exit status %d)", err, ws.ExitStatus())
		}
	}
	return err
}
