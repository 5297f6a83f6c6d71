package runtime

import (
	"fmt"
	"os"
	goruntime "runtime"
	"sort"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Why not os/exec for the init: Go's fork path cannot use CLONE_VM when the
// child gets a new user namespace (the parent must run to write the id
// maps), so it copies the caller's page tables and the child tears them down
// again at exec: 2-4 ms of a ~12 ms sandbox start. Nor can it join a user
// namespace, or let the caller run newuidmap before the child goes on. This
// starts the init with clone(CLONE_VM) on a stack of its own (a posix_spawn
// without CLONE_VFORK): the caller writes the maps while the child waits on
// a pipe, then the child becomes root of the namespace, sets up fds 0-3 and
// execs. The child is Go code that runs outside the Go runtime (see
// rawCloneInit), entered through assembly, so nucleus needs no cgo.

const spawnStack = 64 << 10

// initIDs is who the init is in its user namespace.
type initIDs int

const (
	idsCaller initIDs = iota // no user namespace of its own: the caller's ids
	idsRoot                  // root of the new user namespace
	idsKeep                  // the caller's own ids, mapped to themselves (rootless userns: host)
)

// spawnArgs is everything the child reads and the only memory, besides its
// stack, that it writes: plain integers and bytes, never Go pointers (a
// pointer store would need the write barrier, i.e. the Go runtime).
type spawnArgs struct {
	path, argv, envp uintptr // *byte, **byte, **byte: NUL-terminated, kept alive by the caller
	syncFD           int     // the child reads one byte: the id maps are written
	syncW            int     // the write end, closed in the child so that the caller's death reads as EOF
	errFD            int     // close-on-exec; the child writes errno here on failure
	fds              [4]int  // become 0, 1, 2 and 3
	keep             [6]int  // syncFD, errFD and fds, sorted (close_others)
	setid            initIDs
	pdeathsig        int
	slack            uintptr // timer slack (ns) to set, 0: keep the cloning thread's
	caller           int     // the caller's pid as /proc sees it (0: unknown)
	// Joining an existing user namespace (usernsFD >= 0): a first child
	// joins it and clones the init as the caller's child (CLONE_PARENT),
	// writing the init's pid to pidW.
	usernsFD, pidW int
	flags          uintptr
	stack2         uintptr
	// nest (with usernsFD and CLONE_NEWUSER in flags): the init gets a
	// user namespace of its own inside the joined one (rootless userns:
	// host on the project's hub). The first child, root of the joined one,
	// writes maps[i] to /proc/PID/mapFile[i] (the caller, two levels up,
	// may not): "UID 0 1", "deny", "GID 0 1".
	nest    bool
	maps    [3][24]byte
	mapLen  [3]int
	mapFile [3][12]byte // NUL-terminated
	mapPath [48]byte    // "/proc/" and scratch

	// Scratch space of the child (a nosplit stack is small).
	errno    int32
	pid      int32
	tmp      [4]int
	sync     [1]byte
	capHdr   [2]uint32
	capData  [6]uint32 // two of {effective, permitted, inheritable}
	sigact   [4]uint64 // a kernel struct sigaction of SIG_DFL
	sigset   uint64    // empty
	sched    [1]int32  // struct sched_param{0}
	procStat [16]byte  // "/proc/self/stat\0"
	stat     [512]byte
}

// rawCloneInit and rawCloneJoin (spawn_linux_amd64.s) clone a child on
// stack that runs initChild or joinChild with arg, a *spawnArgs. The child
// functions run outside the Go runtime, sharing the caller's memory: they
// must stay nosplit and call only raw syscalls (no allocation, no pointer
// writes, nothing that could grow a stack or take a lock). They never
// return.

//go:nosplit
func sys(trap, a1, a2, a3 uintptr) (uintptr, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(trap, a1, a2, a3, 0, 0, 0)
	return r, e
}

// sigsetSize is the kernel's sigset_t size, the last argument of
// rt_sigaction and rt_sigprocmask.
const sigsetSize = 8

//go:nosplit
func sys4(trap, a1, a2, a3, a4 uintptr) (uintptr, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(trap, a1, a2, a3, a4, 0, 0)
	return r, e
}

//go:nosplit
func childFail(a *spawnArgs, e syscall.Errno) {
	a.errno = int32(e)
	sys(unix.SYS_WRITE, uintptr(a.errFD), uintptr(unsafe.Pointer(&a.errno)), 4)
	for {
		sys(unix.SYS_EXIT_GROUP, 127, 0, 0)
	}
}

//go:nosplit
func childExit(code uintptr) {
	for {
		sys(unix.SYS_EXIT_GROUP, code, 0, 0)
	}
}

// hostPPID is the parent's pid as /proc sees it. getppid() says 0 here:
// the child is PID 1 of a new pid namespace and its parent is outside.
// -1 when /proc cannot tell.
//
//go:nosplit
func hostPPID(a *spawnArgs) int {
	const atFDCWD = ^uintptr(99) // AT_FDCWD, -100
	fd, e := sys(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(&a.procStat[0])), unix.O_RDONLY|unix.O_CLOEXEC)
	if e != 0 {
		return -1
	}
	n, e := sys(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&a.stat[0])), uintptr(len(a.stat)-1))
	sys(unix.SYS_CLOSE, fd, 0, 0)
	if e != 0 || n == 0 {
		return -1
	}
	// The name may hold spaces and parentheses: the last ')' ends it,
	// then " S PPID ".
	p := -1
	for i := int(n) - 1; i >= 0; i-- {
		if a.stat[i] == ')' {
			p = i
			break
		}
	}
	if p < 0 || p+4 >= int(n) || a.stat[p+1] != ' ' || a.stat[p+3] != ' ' {
		return -1
	}
	ppid := 0
	for i := p + 4; i < int(n) && a.stat[i] >= '0' && a.stat[i] <= '9'; i++ {
		ppid = ppid*10 + int(a.stat[i]-'0')
	}
	return ppid
}

// closeOthers closes every fd but those in keep. Without close_range
// (Linux < 5.9) it closes our own write end only.
//
//go:nosplit
func closeOthers(a *spawnArgs) {
	lo := 0
	for i := 0; i < len(a.keep); i++ {
		k := a.keep[i]
		if k > lo {
			if _, e := sys(unix.SYS_CLOSE_RANGE, uintptr(lo), uintptr(k-1), 0); e != 0 {
				sys(unix.SYS_CLOSE, uintptr(a.syncW), 0, 0)
				return
			}
		}
		lo = k + 1
	}
	if _, e := sys(unix.SYS_CLOSE_RANGE, uintptr(lo), ^uintptr(0)>>32, 0); e != 0 {
		sys(unix.SYS_CLOSE, uintptr(a.syncW), 0, 0)
	}
}

//go:nosplit
func initChild(a *spawnArgs) {
	// Signals stay blocked (inherited) until exec; handlers are Go's, so
	// reset them (the table is our own: no CLONE_SIGHAND).
	for i := uintptr(1); i < 65; i++ {
		sys4(unix.SYS_RT_SIGACTION, i, uintptr(unsafe.Pointer(&a.sigact[0])), 0, sigsetSize)
	}
	// The parent-death signal cannot be armed yet (see below): if the
	// caller dies before writing the maps, the read must see EOF so that we
	// exit. So no write end of it may stay open here: not ours, and not
	// those of sandboxes the caller is starting at the same time, which
	// our copy of its fd table holds too. Everything else is close-on-exec
	// anyway: keep only the fds we use.
	closeOthers(a)
	if n, e := sys(unix.SYS_READ, uintptr(a.syncFD), uintptr(unsafe.Pointer(&a.sync[0])), 1); e != 0 || n != 1 {
		if e == 0 {
			e = unix.EPIPE
		}
		childFail(a, e)
	}
	// A real-time caller's policy would be inherited, and a real-time task
	// cannot join a v1 cpu cgroup without an rt_runtime budget.
	sys(unix.SYS_SCHED_SETSCHEDULER, 0, 0 /* SCHED_OTHER */, uintptr(unsafe.Pointer(&a.sched[0])))
	// Timer slack is per thread and inherited: the cloning thread's may be
	// sysmon's 2 ms (sysmonslack) if sysmon started that thread, and the
	// whole init at 2 ms starts the workload 0.4 ms later. The caller's.
	if a.slack > 0 {
		if _, e := sys(unix.SYS_PRCTL, unix.PR_SET_TIMERSLACK, a.slack, 0); e != 0 {
			childFail(a, e)
		}
	}
	if _, e := sys(unix.SYS_SETSID, 0, 0, 0); e != 0 {
		childFail(a, e)
	}
	switch a.setid {
	case idsRoot:
		// setgroups may be denied where a map was written without newgidmap.
		if _, e := sys(unix.SYS_SETRESGID, 0, 0, 0); e != 0 {
			childFail(a, e)
		}
		if _, e := sys(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 && e != unix.EPERM {
			childFail(a, e)
		}
		if _, e := sys(unix.SYS_SETRESUID, 0, 0, 0); e != 0 {
			childFail(a, e)
		}
	case idsKeep:
		// Rootless userns: host: the init runs as the user, not as root
		// inside, so execve would drop the full set the new namespace
		// gave it; as ambient capabilities they survive. (setgroups is
		// denied there: the user's groups stay.)
		if _, e := sys(unix.SYS_CAPGET, uintptr(unsafe.Pointer(&a.capHdr[0])), uintptr(unsafe.Pointer(&a.capData[0])), 0); e != 0 {
			childFail(a, e)
		}
		a.capData[2], a.capData[5] = a.capData[1], a.capData[4] // inheritable = permitted
		if _, e := sys(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&a.capHdr[0])), uintptr(unsafe.Pointer(&a.capData[0])), 0); e != 0 {
			childFail(a, e)
		}
		for c := uintptr(0); c < 64; c++ {
			if _, e := sys(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, c); e != 0 && e != unix.EINVAL {
				childFail(a, e)
			}
		}
	}
	// Armed only now: becoming root of the new user namespace changes the
	// host euid, and the kernel clears the parent-death signal on any such
	// credential change (commit_creds), so armed earlier it was lost.
	if a.pdeathsig != 0 {
		if _, e := sys(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(a.pdeathsig), 0); e != 0 {
			childFail(a, e)
		}
		// The caller may have died before that: then the signal never comes.
		if a.caller > 0 {
			if ppid := hostPPID(a); ppid >= 0 && ppid != a.caller {
				childExit(127)
			}
		}
	}
	// Move the fds out of the way first so that none overwrites another.
	for i := 0; i < 4; i++ {
		fd, e := sys(unix.SYS_FCNTL, uintptr(a.fds[i]), unix.F_DUPFD_CLOEXEC, 16)
		if e != 0 {
			childFail(a, e)
		}
		a.tmp[i] = int(fd)
	}
	for i := 0; i < 4; i++ {
		if _, e := sys(unix.SYS_DUP3, uintptr(a.tmp[i]), uintptr(i), 0); e != 0 {
			childFail(a, e)
		}
	}
	sys4(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&a.sigset)), 0, sigsetSize)
	_, e := sys(unix.SYS_EXECVE, a.path, a.argv, a.envp)
	childFail(a, e)
}

// joinChild runs in a first child that shares nothing but memory with the
// caller: being single-threaded with its own fs struct, it may join the
// user namespace (a multi-threaded Go process never can), and the
// namespaces it then creates for the init are owned by that namespace.
//
//go:nosplit
func joinChild(a *spawnArgs) {
	if _, e := sys(unix.SYS_SETNS, uintptr(a.usernsFD), unix.CLONE_NEWUSER, 0); e != 0 {
		childFail(a, e)
	}
	pid, e := rawCloneInit(a.flags|unix.CLONE_VM|unix.CLONE_PARENT, a.stack2, uintptr(unsafe.Pointer(a)))
	if e != 0 {
		childFail(a, syscall.Errno(e))
	}
	a.pid = int32(pid)
	if a.nest {
		for i := 0; i < len(a.maps); i++ {
			if e := writeNestMap(a, i); e != 0 {
				sys(unix.SYS_KILL, pid, uintptr(unix.SIGKILL), 0)
				childFail(a, e)
			}
		}
	}
	if n, e := sys(unix.SYS_WRITE, uintptr(a.pidW), uintptr(unsafe.Pointer(&a.pid)), 4); e != 0 || n != 4 {
		childExit(126)
	}
	childExit(0)
}

// writeNestMap writes a.maps[i] to /proc/<a.pid>/<a.mapFile[i]>.
//
//go:nosplit
func writeNestMap(a *spawnArgs, i int) syscall.Errno {
	n := len("/proc/") // written by the caller
	d := 0
	for p := int(a.pid); p > 0; p /= 10 {
		d++
	}
	for p, j := int(a.pid), n+d-1; j >= n; j-- {
		a.mapPath[j] = byte('0' + p%10)
		p /= 10
	}
	n += d
	a.mapPath[n] = '/'
	n++
	for j := 0; j < len(a.mapFile[i]) && n < len(a.mapPath); j++ {
		a.mapPath[n] = a.mapFile[i][j]
		n++
		if a.mapFile[i][j] == 0 {
			break
		}
	}
	const atFDCWD = ^uintptr(99) // AT_FDCWD, -100
	fd, e := sys(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(&a.mapPath[0])), unix.O_WRONLY|unix.O_CLOEXEC)
	if e != 0 {
		return e
	}
	w, e := sys(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&a.maps[i][0])), uintptr(a.mapLen[i]))
	sys(unix.SYS_CLOSE, fd, 0, 0)
	if e == 0 && int(w) != a.mapLen[i] {
		e = unix.EIO
	}
	return e
}

// spawnInit clones path into new namespaces (flags) and execs it with fds
// as 0-3. mapIDs, when set, runs in the caller after the clone and before
// the child continues (write uid_map/gid_map).
//
// It returns once the child runs on its own; the exec itself (~0.5-1 ms)
// overlaps with the caller's next steps. execDone must be called exactly
// once: it waits for the exec, reports its failure, and frees the memory
// the child used until then (it shares ours).
//
// usernsFD >= 0 is a user namespace the init joins instead of creating one
// (its maps exist, so mapIDs is nil): the other namespaces are then owned
// by it, so every sandbox joining it can be wired to the others by whoever
// has CAP_NET_ADMIN there. With CLONE_NEWUSER in flags too, the init gets
// a user namespace of its own inside the joined one, where nest (uid, gid)
// map to root of the joined one (ids must be idsKeep).
func spawnInit(path string, argv, env []string, fds [4]int, flags uintptr, ids initIDs, pdeathsig unix.Signal,
	mapIDs func(pid int) error, usernsFD int, nest ...int) (pid int, execDone func() error, err error) {
	if errNoSpawn != nil {
		return 0, nil, errNoSpawn
	}
	// Released by execDone (or on failure here): the child reads this
	// memory and holds the error pipe until it execs or dies.
	var release []func()
	releaseAll := func() {
		for i := len(release) - 1; i >= 0; i-- {
			release[i]()
		}
	}
	defer func() {
		if err != nil {
			releaseAll()
		}
	}()
	var syncP, errP [2]int
	if err := unix.Pipe2(syncP[:], unix.O_CLOEXEC); err != nil {
		return 0, nil, fmt.Errorf("spawn init: %w", err)
	}
	defer unix.Close(syncP[0])
	defer unix.Close(syncP[1])
	if err := unix.Pipe2(errP[:], unix.O_CLOEXEC); err != nil {
		return 0, nil, fmt.Errorf("spawn init: %w", err)
	}
	release = append(release, func() { unix.Close(errP[0]) })
	wClosed := false
	defer func() {
		if !wClosed {
			unix.Close(errP[1])
		}
	}()

	cPath, err := syscall.BytePtrFromString(path)
	if err != nil {
		return 0, nil, fmt.Errorf("spawn init: path: %w", err)
	}
	cArgv, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return 0, nil, fmt.Errorf("spawn init: argv: %w", err)
	}
	cEnv, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return 0, nil, fmt.Errorf("spawn init: environment: %w", err)
	}
	// Heap memory (a goroutine's stack may move; the heap does not), kept
	// reachable until execDone by the closures below.
	a := &spawnArgs{
		path: uintptr(unsafe.Pointer(cPath)), argv: uintptr(unsafe.Pointer(&cArgv[0])), envp: uintptr(unsafe.Pointer(&cEnv[0])),
		syncFD: syncP[0], syncW: syncP[1], errFD: errP[1], fds: fds, setid: ids,
		pdeathsig: int(pdeathsig), slack: uintptr(callerTimerSlack()), usernsFD: -1, pidW: -1,
		capHdr: [2]uint32{unix.LINUX_CAPABILITY_VERSION_3, 0},
	}
	copy(a.procStat[:], "/proc/self/stat\x00")
	keep := append([]int{a.syncFD, a.errFD}, fds[:]...)
	sort.Ints(keep)
	copy(a.keep[:], keep)
	release = append(release, func() {
		goruntime.KeepAlive(cPath)
		goruntime.KeepAlive(cArgv)
		goruntime.KeepAlive(cEnv)
		goruntime.KeepAlive(a)
	})
	var pidP [2]int
	if usernsFD >= 0 {
		if (flags&unix.CLONE_NEWUSER != 0) != (len(nest) == 2) || (len(nest) == 2 && (ids != idsKeep || nest[0] < 0 || nest[1] < 0)) {
			return 0, nil, fmt.Errorf("spawn init: a user namespace to join, and CLONE_NEWUSER without the ids to map in it (or the reverse)")
		}
		if len(nest) == 2 {
			a.nest = true
			for i, m := range []string{fmt.Sprintf("%d 0 1\n", nest[0]), "deny", fmt.Sprintf("%d 0 1\n", nest[1])} {
				a.mapLen[i] = copy(a.maps[i][:], m)
			}
			for i, f := range []string{"uid_map", "setgroups", "gid_map"} {
				copy(a.mapFile[i][:], f+"\x00")
			}
			copy(a.mapPath[:], "/proc/")
		}
		if err := unix.Pipe2(pidP[:], unix.O_CLOEXEC); err != nil {
			return 0, nil, fmt.Errorf("spawn init: %w", err)
		}
		defer unix.Close(pidP[0])
		defer func() {
			if pidP[1] >= 0 {
				unix.Close(pidP[1])
			}
		}()
		a.usernsFD, a.pidW = usernsFD, pidP[1]
	}
	if pdeathsig != 0 {
		// /proc's view of our pid, which need not be getpid()'s.
		if self, err := os.Readlink("/proc/self"); err == nil {
			if n, err := strconv.Atoi(self); err == nil {
				a.caller = n
			}
		}
	}
	stack, err := unix.Mmap(-1, 0, spawnStack, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_STACK)
	if err != nil {
		return 0, nil, fmt.Errorf("spawn init: stack: %w", err)
	}
	release = append(release, func() { _ = unix.Munmap(stack) })
	base := uintptr(unsafe.Pointer(&stack[0]))

	cpid, cerr := cloneChild(a, flags, base, spawnStack)
	if cerr != 0 {
		return 0, nil, fmt.Errorf("clone sandbox init: %w", cerr)
	}
	pid = int(cpid)
	trace("cloned")
	unix.Close(errP[1])
	wClosed = true
	if usernsFD >= 0 {
		// Only the first child (and the init it makes) may hold the write
		// end, so that its failure reads as EOF.
		unix.Close(pidP[1])
		pidP[1] = -1
		if pid, err = joinedPid(pid, pidP[0], errP[0]); err != nil {
			return 0, nil, err
		}
	}
	// reap kills and reaps a child that has not exec'd: only then may its
	// memory (ours) be freed.
	reap := func() {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, 0, nil)
	}
	if mapIDs != nil {
		if err := mapIDs(pid); err != nil {
			reap()
			return 0, nil, err
		}
	}
	trace("maps written")
	if _, err := unix.Write(syncP[1], []byte{1}); err != nil {
		reap()
		return 0, nil, fmt.Errorf("start sandbox init: %w", err)
	}
	execDone = func() error {
		defer releaseAll()
		var buf [4]byte
		for {
			n, err := unix.Read(errP[0], buf[:])
			if err == unix.EINTR {
				continue
			}
			if n == 4 {
				errno := unix.Errno(*(*int32)(unsafe.Pointer(&buf[0])))
				reap()
				return fmt.Errorf("start sandbox init %s: %w", path, errno)
			}
			return nil // EOF: exec succeeded (the pipe was close-on-exec) or the child died
		}
	}
	return pid, execDone, nil
}

// cloneChild starts the child (or, to join a user namespace, the first
// child, on the stack's lower half) with every signal blocked on this
// thread, so that none of Go's handlers runs on the child's stack before
// it resets them.
func cloneChild(a *spawnArgs, flags, base, size uintptr) (uintptr, unix.Errno) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	all, old := ^uint64(0), uint64(0)
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), sigsetSize, 0, 0)
	var pid, errno uintptr
	if a.usernsFD >= 0 {
		a.flags, a.stack2 = flags, base+size
		pid, errno = rawCloneJoin(unix.CLONE_VM|uintptr(unix.SIGCHLD), base+size/2, uintptr(unsafe.Pointer(a)))
	} else {
		pid, errno = rawCloneInit(flags|unix.CLONE_VM|uintptr(unix.SIGCHLD), base+size, uintptr(unsafe.Pointer(a)))
	}
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, sigsetSize, 0, 0)
	goruntime.KeepAlive(a)
	return pid, unix.Errno(errno)
}

// joinedPid reaps the first child of a user-namespace join and returns the
// init's pid it reported, or the errno it failed with.
func joinedPid(first, pidR, errR int) (int, error) {
	var buf [4]byte
	n, rerr := readFull(pidR, buf[:])
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(first, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	if n == 4 && rerr == nil {
		return int(*(*int32)(unsafe.Pointer(&buf[0]))), nil
	}
	// Status 127: it wrote its errno before exiting, and made no init
	// that could hold the pipe open.
	if n, _ := readFull(errR, buf[:]); ws.ExitStatus() == 127 && n == 4 {
		return 0, fmt.Errorf("join the project user namespace: %w", unix.Errno(*(*int32)(unsafe.Pointer(&buf[0]))))
	}
	return 0, fmt.Errorf("join the project user namespace: the first child exited with status %d", ws.ExitStatus())
}

func readFull(fd int, b []byte) (int, error) {
	got := 0
	for got < len(b) {
		n, err := unix.Read(fd, b[got:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return got, err
		}
		if n == 0 {
			break
		}
		got += n
	}
	return got, nil
}

// writeIDMaps maps container ids 0..size-1 to host ids base.. for pid.
func writeIDMaps(pid, base, size int) error {
	m := []byte(fmt.Sprintf("0 %d %d\n", base, size))
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/uid_map", pid), m, 0); err != nil {
		return fmt.Errorf("write uid map: %w", err)
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/setgroups", pid), []byte("allow"), 0); err != nil {
		return fmt.Errorf("write setgroups: %w", err)
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/gid_map", pid), m, 0); err != nil {
		return fmt.Errorf("write gid map: %w", err)
	}
	return nil
}
