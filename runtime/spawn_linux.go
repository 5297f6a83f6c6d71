package runtime

/*
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

// nspawn describes the init to start. All memory is C memory: the child
// shares the caller's address space (CLONE_VM) and must never touch Go's.
struct nspawn {
	const char *path;
	char **argv;
	char **envp;
	int sync_fd;   // child reads one byte: the id maps are written
	int sync_w;    // the write end, closed in the child so that the
	               // caller's death reads as EOF, not as a wait forever
	int err_fd;    // close-on-exec; the child writes errno here on failure
	int fds[4];    // become 0, 1, 2 and 3
	int setid;     // 1: become uid/gid 0 of the new user namespace;
	               // 2: keep the caller's ids (mapped to themselves) and
	               // carry the capabilities across execve as ambient ones
	int pdeathsig;
	int caller;    // the caller's pid as /proc sees it (0: unknown)
	// Joining an existing user namespace (userns_fd >= 0): a first child
	// joins it and clones the init as the caller's child (CLONE_PARENT),
	// writing the init's pid to pid_w; see nspawn_join.
	int userns_fd;
	int pid_w;
	int flags;
	char *stack2;
};

// host_ppid is the parent's pid as /proc sees it. getppid() says 0 here:
// the child is PID 1 of a new pid namespace and its parent is outside.
// -1 when /proc cannot tell.
static int host_ppid(void) {
	char buf[512], *p;
	int fd, n, ppid;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')'); // the name may hold spaces and parentheses
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return -1;
	ppid = 0;
	for (p += 4; *p >= '0' && *p <= '9'; p++)
		ppid = ppid * 10 + (*p - '0');
	return ppid;
}

static int cmp_int(const void *x, const void *y) {
	return *(const int *)x - *(const int *)y;
}

// close_others closes every fd but sync_fd, err_fd and fds[]. Without
// close_range (Linux < 5.9) it closes our own write end only.
static void close_others(struct nspawn *a) {
	int keep[6], i, lo = 0;

	keep[0] = a->sync_fd;
	keep[1] = a->err_fd;
	for (i = 0; i < 4; i++)
		keep[2 + i] = a->fds[i];
	qsort(keep, 6, sizeof keep[0], cmp_int);
	for (i = 0; i < 6; i++) {
		if (keep[i] > lo && syscall(SYS_close_range, lo, keep[i] - 1, 0) < 0) {
			close(a->sync_w);
			return;
		}
		lo = keep[i] + 1;
	}
	if (syscall(SYS_close_range, lo, ~0U, 0) < 0)
		close(a->sync_w);
}

static int nspawn_child(void *p) {
	struct nspawn *a = p;
	struct sigaction sa;
	sigset_t none;
	char c;
	int i, tmp[4], e;

	// Signals stay blocked (inherited) until exec; handlers are Go's, so
	// reset them (the table is our own: no CLONE_SIGHAND).
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (i = 1; i < 65; i++)
		sigaction(i, &sa, NULL);
	// The parent-death signal cannot be armed yet (see below): if the
	// caller dies before writing the maps, the read must see EOF so that we
	// exit. So no write end of it may stay open here: not ours, and not
	// those of sandboxes the caller is starting at the same time, which
	// our copy of its fd table holds too. Everything else is close-on-exec
	// anyway: keep only the fds we use.
	close_others(a);
	if (read(a->sync_fd, &c, 1) != 1)
		goto fail;
	// A real-time caller's policy would be inherited, and a real-time task
	// cannot join a v1 cpu cgroup without an rt_runtime budget.
	{
		struct sched_param sp;
		memset(&sp, 0, sizeof sp);
		sched_setscheduler(0, SCHED_OTHER, &sp);
	}
	if (setsid() < 0)
		goto fail;
	if (a->setid == 1) {
		// setgroups may be denied where a map was written without newgidmap.
		if (syscall(SYS_setresgid, 0, 0, 0) < 0 ||
		    (syscall(SYS_setgroups, 0, NULL) < 0 && errno != EPERM) ||
		    syscall(SYS_setresuid, 0, 0, 0) < 0)
			goto fail;
	} else if (a->setid == 2) {
		// Rootless userns: host: the init runs as the user, not as root
		// inside, so execve would drop the full set the new namespace
		// gave it; as ambient capabilities they survive. (setgroups is
		// denied there: the user's groups stay.)
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2];
		if (syscall(SYS_capget, &h, d) < 0)
			goto fail;
		d[0].inheritable = d[0].permitted;
		d[1].inheritable = d[1].permitted;
		if (syscall(SYS_capset, &h, d) < 0)
			goto fail;
		for (i = 0; i < 64; i++)
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0 && errno != EINVAL)
				goto fail;
	}
	// Armed only now: becoming root of the new user namespace changes the
	// host euid, and the kernel clears the parent-death signal on any such
	// credential change (commit_creds), so armed earlier it was lost.
	if (a->pdeathsig && prctl(PR_SET_PDEATHSIG, a->pdeathsig) < 0)
		goto fail;
	// The caller may have died before that: then the signal never comes.
	if (a->pdeathsig && a->caller > 0) {
		int ppid = host_ppid();
		if (ppid >= 0 && ppid != a->caller)
			_exit(127);
	}
	// Move the fds out of the way first so that none overwrites another.
	for (i = 0; i < 4; i++)
		if ((tmp[i] = fcntl(a->fds[i], F_DUPFD_CLOEXEC, 16)) < 0)
			goto fail;
	for (i = 0; i < 4; i++)
		if (dup2(tmp[i], i) < 0)
			goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(a->path, a->argv, a->envp);
fail:
	e = errno;
	if (write(a->err_fd, &e, sizeof e) < 0) {
	}
	_exit(127);
}

// nspawn_join runs in a first child that shares nothing but memory with the
// caller: being single-threaded with its own fs struct, it may join the
// user namespace (a multi-threaded Go process never can), and the
// namespaces it then creates for the init are owned by that namespace.
static int nspawn_join(void *p) {
	struct nspawn *a = p;
	int pid, e;

	if (setns(a->userns_fd, CLONE_NEWUSER) < 0)
		goto fail;
	pid = clone(nspawn_child, a->stack2, a->flags | CLONE_VM | CLONE_PARENT, a);
	if (pid < 0)
		goto fail;
	if (write(a->pid_w, &pid, sizeof pid) != sizeof pid)
		_exit(126);
	_exit(0);
fail:
	e = errno;
	if (write(a->err_fd, &e, sizeof e) < 0) {
	}
	_exit(127);
}

static int nspawn_start(struct nspawn *a, int flags, char *stack, size_t size) {
	sigset_t all, old;
	int pid, e;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (a->userns_fd >= 0) {
		a->flags = flags;
		a->stack2 = stack + size;
		pid = clone(nspawn_join, stack + size / 2, CLONE_VM | SIGCHLD, a);
	} else
		pid = clone(nspawn_child, stack + size, flags | CLONE_VM | SIGCHLD, a);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return pid;
}
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Why not os/exec for the init: Go's fork path cannot use CLONE_VM when the
// child gets a new user namespace (the parent must run to write the id
// maps), so it copies the caller's page tables and the child tears them down
// again at exec: 2-4 ms of a ~12 ms sandbox start. This starts the init with
// clone(CLONE_VM) on a small C stack (a posix_spawn without CLONE_VFORK):
// the caller writes the maps while the child waits on a pipe, then the child
// becomes root of the namespace, sets up fds 0-3 and execs.

const spawnStack = 64 << 10

// spawnInit clones path into new namespaces (flags) and execs it with fds
// as 0-3. mapIDs, when set, runs in the caller after the clone and before
// the child continues (write uid_map/gid_map).
//
// It returns once the child runs on its own; the exec itself (~0.5-1 ms)
// overlaps with the caller's next steps. execDone must be called exactly
// once: it waits for the exec, reports its failure, and frees the memory
// the child used until then (it shares ours).
//
// initIDs is who the init is in its user namespace.
type initIDs int

const (
	idsCaller initIDs = iota // no user namespace of its own: the caller's ids
	idsRoot                  // root of the new user namespace
	idsKeep                  // the caller's own ids, mapped to themselves (rootless userns: host)
)

// usernsFD >= 0 is a user namespace the init joins instead of creating one
// (flags must not hold CLONE_NEWUSER; its maps exist, so mapIDs is nil):
// the other namespaces are then owned by it, so every sandbox joining it
// can be wired to the others by whoever has CAP_NET_ADMIN there.
func spawnInit(path string, argv, env []string, fds [4]int, flags uintptr, ids initIDs, pdeathsig unix.Signal,
	mapIDs func(pid int) error, usernsFD int) (pid int, execDone func() error, err error) {
	// Released by execDone (or on failure here): the child reads the C
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

	a := (*C.struct_nspawn)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_nspawn{}))))
	release = append(release, func() { C.free(unsafe.Pointer(a)) })
	a.path = C.CString(path)
	release = append(release, func() { C.free(unsafe.Pointer(a.path)) })
	a.argv = cStrings(argv)
	release = append(release, func() { freeCStrings(a.argv, len(argv)) })
	a.envp = cStrings(env)
	release = append(release, func() { freeCStrings(a.envp, len(env)) })
	a.sync_fd, a.sync_w, a.err_fd = C.int(syncP[0]), C.int(syncP[1]), C.int(errP[1])
	for i, fd := range fds {
		a.fds[i] = C.int(fd)
	}
	a.setid = C.int(ids)
	a.userns_fd, a.pid_w = -1, -1
	var pidP [2]int
	if usernsFD >= 0 {
		if flags&unix.CLONE_NEWUSER != 0 {
			return 0, nil, fmt.Errorf("spawn init: a user namespace to join and CLONE_NEWUSER")
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
		a.userns_fd, a.pid_w = C.int(usernsFD), C.int(pidP[1])
	}
	a.pdeathsig = C.int(pdeathsig)
	if pdeathsig != 0 {
		// /proc's view of our pid, which need not be getpid()'s.
		if self, err := os.Readlink("/proc/self"); err == nil {
			if n, err := strconv.Atoi(self); err == nil {
				a.caller = C.int(n)
			}
		}
	}
	stack := (*C.char)(C.malloc(spawnStack))
	release = append(release, func() { C.free(unsafe.Pointer(stack)) })

	cpid, cerr := C.nspawn_start(a, C.int(flags), stack, spawnStack)
	if cpid < 0 {
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
				errno := unix.Errno(*(*C.int)(unsafe.Pointer(&buf[0])))
				reap()
				return fmt.Errorf("start sandbox init %s: %w", path, errno)
			}
			return nil // EOF: exec succeeded (the pipe was close-on-exec) or the child died
		}
	}
	return pid, execDone, nil
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
		return int(*(*C.int)(unsafe.Pointer(&buf[0]))), nil
	}
	// Status 127: it wrote its errno before exiting, and made no init
	// that could hold the pipe open.
	if n, _ := readFull(errR, buf[:]); ws.ExitStatus() == 127 && n == 4 {
		return 0, fmt.Errorf("join the project user namespace: %w", unix.Errno(*(*C.int)(unsafe.Pointer(&buf[0]))))
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

func cStrings(ss []string) **C.char {
	arr := (**C.char)(C.calloc(C.size_t(len(ss)+1), C.size_t(unsafe.Sizeof(uintptr(0)))))
	view := unsafe.Slice(arr, len(ss)+1)
	for i, s := range ss {
		view[i] = C.CString(s)
	}
	return arr
}

func freeCStrings(arr **C.char, n int) {
	view := unsafe.Slice(arr, n+1)
	for i := 0; i < n; i++ {
		C.free(unsafe.Pointer(view[i]))
	}
	C.free(unsafe.Pointer(arr))
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
