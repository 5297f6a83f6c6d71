package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"nucleus/runtime/cgroups"
	"nucleus/runtime/sbinit"
	"nucleus/spec"
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
	svc := cfg.Service
	if svc == nil || len(svc.Command) == 0 {
		return nil, fmt.Errorf("sandbox %s: no command to run", cfg.ID)
	}
	dir := sandboxDir(cfg.Root.Run, cfg.ID)
	if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("sandbox %s already exists (state %s)", cfg.ID, dir)
		}
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	s := &Sandbox{id: cfg.ID, cfg: cfg, dir: dir, root: cfg.Root, done: make(chan struct{})}
	defer func() {
		if err != nil {
			s.destroy(context.Background())
		}
	}()

	trace("create: begin")
	userns := svc.Security.UserNS != spec.UserNSHost
	if userns {
		project := cfg.Project
		if project == "" {
			project = "_" + cfg.ID
		}
		base, err := ProjectIDRange(cfg.Root, project)
		if err != nil {
			return nil, err
		}
		s.hostUID = int(base)
	}
	s.limits = svc.Resources

	// cgroup v1: moving a process (a cgroup.procs write) takes a global
	// rwsem whose write side waits for an RCU grace period, ~10 ms here.
	// A thread moving itself through the "tasks" file skips that lock, so the
	// init's spawner thread joins by writing "0" to each controller's tasks
	// file (opened here, by host root) before it forks anything: every
	// process of the sandbox is born in the cgroup. On v2 the whole init is
	// born in the cgroup (CLONE_INTO_CGROUP).
	v2 := cgroups.V2Host()
	if v2 {
		if s.cg, err = cgroups.New(cfg.Root, cfg.ID, svc.Resources); err != nil {
			return nil, err
		}
	}
	if err := s.startInit(userns); err != nil {
		return nil, err
	}
	trace("init started")
	// While the init's Go runtime starts: the v1 cgroup and the filter.
	if !v2 {
		if s.cg, err = cgroups.New(cfg.Root, cfg.ID, svc.Resources); err != nil {
			return nil, err
		}
	}
	prog, err := seccompProgram(cfg.Root, svc)
	if err != nil {
		return nil, err
	}
	s.seccompMode = prog.Mode()
	trace("cgroup and seccomp ready")
	ic := &sbinit.Config{
		Args: svc.Command, Env: envList(svc.Environment), Dir: svc.WorkingDir, User: svc.User,
		Hostname: hostname(cfg), ReadOnly: svc.ReadOnly, Files: cfg.Files,
		HostNetNS: cfg.NoNetwork, UserNS: userns, CapAdd: capNumbers(svc.CapAdd),
		LandlockMode: svc.Security.Landlock.Mode, Terminal: cfg.Terminal, Seccomp: prog.BPF(),
		FDRootfs: -1, FDLogDir: -1, FDExitFile: -1, FDListener: -1,
	}
	if svc.Security.Landlock.Mode == spec.LandlockCustom {
		for _, r := range svc.Security.Landlock.Rules {
			ic.LandlockCustom = append(ic.LandlockCustom, sbinit.LandlockRule{Path: r.Path, Access: r.Access})
		}
	}
	fds, err := s.prepareFDs(ic, svc, userns)
	defer sbinit.CloseAll(fds)
	if err != nil {
		return nil, err
	}
	if err := sbinit.Send(int(s.ctl.Fd()), &sbinit.Message{Kind: sbinit.MsgConfig, Config: ic}, fds...); err != nil {
		return nil, err
	}
	trace("config sent")
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
	s.landlockABI = m.ABI
	trace("ready")
	if err := s.writeRecord(); err != nil {
		return nil, err
	}
	return s, nil
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
	// A lean runtime for a long-lived, mostly idle process.
	env := []string{"GOMAXPROCS=1", "GOGC=off", "GOMEMLIMIT=6MiB"}
	if traceOn {
		env = append(env, "NUCLEUS_TRACE=1")
	}
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS)
	if !cfg.NoNetwork {
		flags |= unix.CLONE_NEWNET
	}
	if userns {
		flags |= unix.CLONE_NEWUSER
	}
	var pdeath unix.Signal
	if cfg.DieWithCaller {
		pdeath = unix.SIGKILL
	}
	trace("clone")
	if dir := s.v2Dir(); dir != "" {
		err = s.startInitExec(path, argv, env, stdio, ctlChild, flags, pdeath, dir)
	} else {
		var mapIDs func(int) error
		if userns {
			mapIDs = func(pid int) error { return writeIDMaps(pid, s.hostUID, IDRangeSize) }
		}
		fds := [4]int{int(stdio[0].Fd()), int(stdio[1].Fd()), int(stdio[2].Fd()), int(ctlChild.Fd())}
		var pid int
		pid, err = spawnInit(path, argv, env, fds, flags, userns, pdeath, mapIDs)
		if err == nil {
			s.pid, s.proc = pid, &rawProc{pid: pid, copies: s.copies}
		}
	}
	if err != nil {
		return err
	}
	s.startTime, _ = procStartTime(s.pid)
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
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sandbox init: %w", err)
	}
	s.pid, s.proc = cmd.Process.Pid, &cmdProc{cmd: cmd, copies: s.copies}
	return nil
}

// testV2Dir makes tests start the init through the v2 path
// (CLONE_INTO_CGROUP into this v2 directory) on a host whose controllers are v1.
var testV2Dir string

// v2Dir is the v2 cgroup directory to clone the init into, "" on v1.
func (s *Sandbox) v2Dir() string {
	if s.cg != nil && s.cg.V2() {
		return s.cg.Dir()
	}
	return testV2Dir
}

// attachConsole copies between the caller's stdio and the pty master.
func (s *Sandbox) attachConsole(master *os.File) {
	s.tty = master
	if s.cfg.Stdin != nil {
		go func() { _, _ = io.Copy(master, s.cfg.Stdin) }()
	}
	if s.cfg.Stdout != nil {
		s.ioDone = make(chan struct{})
		go func() { _, _ = io.Copy(s.cfg.Stdout, master); close(s.ioDone) }()
	}
}

// stdio returns the init's fds 0-2 (passed on to the workload): the
// caller's files, a pty slave, /dev/null when logging, or pipes copied by
// goroutines for other readers and writers.
func (s *Sandbox) stdio() ([3]*os.File, error) {
	cfg := s.cfg
	var out [3]*os.File
	s.copies = &sync.WaitGroup{}
	devnull := func(i int) error {
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		out[i] = f
		return err
	}
	switch {
	case cfg.Stdout == nil || cfg.Terminal:
		// Logged by the init, or a terminal the init allocates in the
		// sandbox's devpts (see attachConsole).
		for i := range out {
			if err := devnull(i); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	stderr := cfg.Stderr
	if stderr == nil {
		stderr = cfg.Stdout
	}
	if f, ok := cfg.Stdin.(*os.File); ok {
		out[0] = dupFile(f)
	} else if cfg.Stdin == nil {
		if err := devnull(0); err != nil {
			return out, err
		}
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return out, err
		}
		out[0] = r
		go func() { _, _ = io.Copy(w, cfg.Stdin); w.Close() }()
	}
	for i, wr := range []io.Writer{cfg.Stdout, stderr} {
		if f, ok := wr.(*os.File); ok {
			out[i+1] = dupFile(f)
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return out, err
		}
		out[i+1] = w
		s.copies.Add(1)
		go func(wr io.Writer) { defer s.copies.Done(); _, _ = io.Copy(wr, r); r.Close() }(wr)
	}
	return out, nil
}

// prepareFDs opens what the init must not resolve itself: the rootfs and
// bind sources as detached mounts (idmapped under a private user namespace
// where the filesystem supports it), the log directory and the exit file.
func (s *Sandbox) prepareFDs(ic *sbinit.Config, svc *spec.Service, userns bool) ([]int, error) {
	var fds []int
	var usernsFD = -1
	if userns {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/user", s.pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fds, fmt.Errorf("open sandbox user namespace: %w", err)
		}
		defer unix.Close(fd)
		usernsFD = fd
	}
	if svc.Rootfs != "" {
		fd, idm, err := detachedMount(svc.Rootfs, false, usernsFD)
		if err != nil {
			return fds, fmt.Errorf("rootfs %s: %w", svc.Rootfs, err)
		}
		ic.Rootfs, ic.FDRootfs = true, len(fds)
		fds = append(fds, fd)
		s.idmapped = s.idmapped || idm
	}
	for _, m := range s.cfg.Mounts {
		im := sbinit.Mount{Type: "bind", Target: m.Target, ReadOnly: m.ReadOnly, FD: -1}
		if m.Type == spec.MountTmpfs {
			im.Type, im.Size = "tmpfs", int64(m.Size)
		} else {
			fi, err := os.Stat(m.Source)
			if err != nil {
				return fds, fmt.Errorf("volume %s: source: %w", m.Target, err)
			}
			im.IsDir = fi.IsDir()
			// Named volumes are owned by the mapped root already; an idmap would
			// translate them a second time.
			ns := usernsFD
			if m.Type == spec.MountVolume {
				ns = -1
			}
			fd, idm, err := detachedMount(m.Source, m.ReadOnly, ns)
			if err != nil {
				return fds, fmt.Errorf("volume %s: %w", m.Target, err)
			}
			im.FD = len(fds)
			fds = append(fds, fd)
			s.idmapped = s.idmapped || idm
		}
		ic.Mounts = append(ic.Mounts, im)
	}
	if s.cfg.Stdout == nil && !s.cfg.Terminal {
		logDir := filepath.Join(s.dir, "logs")
		if err := os.Mkdir(logDir, 0o750); err != nil {
			return fds, fmt.Errorf("create log directory: %w", err)
		}
		if userns {
			if err := os.Chown(logDir, s.hostUID, s.hostUID); err != nil {
				return fds, fmt.Errorf("hand log directory to the sandbox: %w", err)
			}
		}
		fd, err := unix.Open(logDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fds, fmt.Errorf("open log directory: %w", err)
		}
		ic.Logs, ic.LogMaxSize, ic.FDLogDir = true, s.cfg.LogMaxSize, len(fds)
		fds = append(fds, fd)
	}
	if !s.cg.V2() {
		for _, dir := range s.cg.Paths() {
			fd, err := unix.Open(filepath.Join(dir, "tasks"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fds, fmt.Errorf("open cgroup tasks file: %w", err)
			}
			ic.FDCgroupTasks = append(ic.FDCgroupTasks, len(fds))
			fds = append(fds, fd)
		}
	}
	lfd, err := listenCtl(s.dir)
	if err != nil {
		return fds, err
	}
	ic.FDListener = len(fds)
	fds = append(fds, lfd)
	fd, err := unix.Open(filepath.Join(s.dir, "exit.json"), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fds, fmt.Errorf("create exit file: %w", err)
	}
	ic.FDExitFile = len(fds)
	fds = append(fds, fd)
	return fds, nil
}

// detachedMount clones the tree at src (open_tree), read-only if asked,
// idmapped into usernsFD when >= 0 and the filesystem allows it.
func detachedMount(src string, ro bool, usernsFD int) (int, bool, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return -1, false, fmt.Errorf("clone mount of %s: %w", src, err)
	}
	idmapped := false
	if usernsFD >= 0 {
		a := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(usernsFD)}
		// Not every filesystem supports idmapped mounts (README: files then
		// keep their host owners, seen as nobody inside).
		if unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, a) == nil {
			idmapped = true
		}
	}
	if ro {
		a := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, a); err != nil {
			unix.Close(fd)
			return -1, false, fmt.Errorf("make %s read-only: %w", src, err)
		}
	}
	return fd, idmapped, nil
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
		if _, num, err := spec.ParseCapability(n); err == nil {
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
