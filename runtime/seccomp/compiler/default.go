package compiler

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"nucleus/runtime/seccomp"
)

// The default profile is an allowlist in the spirit of the profiles Docker
// and Podman ship, written for nucleus (x86_64 names; other architectures'
// syscalls are refused, see defaultProfile):
//
//   - a syscall on allowedSyscalls runs;
//   - a syscall on deniedSyscalls fails with EPERM: these are the dangerous
//     ones a program may reasonably probe for, and "not permitted" tells it
//     that policy, not the kernel, said no;
//   - everything else fails with ENOSYS, so programs and libc take their
//     fallback paths for syscalls they consider optional (clone3 -> clone).
//
// clone, ioctl, personality and socket are on neither list: they get
// conditional rules in defaultProfile (an unconditional entry would override
// those).
var allowedSyscalls = []string{
	"accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl",
	"bind", "brk",
	"cachestat", "capget", "capset", "chdir", "chmod", "chown",
	"clock_adjtime", "clock_getres", "clock_gettime", "clock_nanosleep",
	"close", "close_range", "connect", "copy_file_range", "creat",
	"dup", "dup2", "dup3",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
	"eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
	"faccessat", "faccessat2", "fadvise64", "fallocate", "fanotify_mark",
	"fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat",
	"fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork",
	"fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate",
	"futex", "futex_requeue", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
	"get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64",
	"getegid", "geteuid", "getgid", "getgroups", "getitimer",
	"getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
	"getrandom", "getresgid", "getresuid", "getrlimit", "getrusage", "getsid",
	"getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getxattr", "getxattrat",
	"inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
	"io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_setup", "io_submit",
	"ioprio_get", "ioprio_set",
	"kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
	"lchown", "lgetxattr", "link", "linkat", "listen", "listxattr", "listxattrat", "llistxattr",
	"lremovexattr", "lseek", "lsetxattr", "lstat",
	"madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
	"mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall",
	"mmap", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
	"mq_timedsend", "mq_unlink", "mremap", "mseal",
	"msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
	"name_to_handle_at", "nanosleep", "newfstatat",
	"open", "openat", "openat2",
	"pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
	"pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "prctl",
	"pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
	"pwrite64", "pwritev", "pwritev2",
	"read", "readahead", "readlink", "readlinkat", "readv",
	"recvfrom", "recvmmsg", "recvmsg", "remap_file_pages", "removexattr",
	"removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq",
	"rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
	"rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo",
	"sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity",
	"sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
	"seccomp", "select", "semctl", "semget", "semop", "semtimedop",
	"sendfile", "sendmmsg", "sendmsg", "sendto",
	"set_robust_list", "set_thread_area", "set_tid_address",
	"setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority",
	"setregid", "setresgid", "setresuid", "setreuid", "setrlimit", "setsid",
	"setsockopt", "setuid", "setxattr", "setxattrat",
	"shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
	"signalfd", "signalfd4", "socketpair", "splice",
	"stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo",
	"tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
	"timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime",
	"times", "tkill", "truncate",
	"umask", "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat", "utimes",
	"vfork", "vmsplice", "wait4", "waitid", "write", "writev",
}

// deniedSyscalls fail with EPERM unless a capability in capSyscalls grants them.
var deniedSyscalls = []string{
	// file systems and namespaces: the sandbox's view is fixed at start
	"mount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
	"open_tree", "mount_setattr", "pivot_root", "chroot", "unshare", "setns",
	// kernel attack surface and kernel-global state
	"bpf", "perf_event_open", "userfaultfd", "open_by_handle_at",
	"keyctl", "add_key", "request_key",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
	"settimeofday", "clock_settime", "iopl", "ioperm", "vhangup",
	"sethostname", "setdomainname", "fanotify_init", "lookup_dcookie", "nfsservctl",
	// inspecting or changing other processes
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
	// NUMA placement affects the whole host
	"mbind", "set_mempolicy", "get_mempolicy", "move_pages", "migrate_pages",
}

// capSyscalls are denied syscalls a capability in cap_add allows again,
// as Docker does: with the capability the kernel's own check applies.
var capSyscalls = map[string][]string{
	"CAP_SYS_ADMIN": {"mount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
		"open_tree", "mount_setattr", "pivot_root", "unshare", "setns", "quotactl", "quotactl_fd",
		"sethostname", "setdomainname", "fanotify_init", "lookup_dcookie", "bpf", "perf_event_open"},
	"CAP_SYS_CHROOT":     {"chroot"},
	"CAP_SYS_PTRACE":     {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise"},
	"CAP_SYS_MODULE":     {"init_module", "finit_module", "delete_module"},
	"CAP_SYS_BOOT":       {"reboot", "kexec_load", "kexec_file_load"},
	"CAP_SYS_PACCT":      {"acct"},
	"CAP_SYS_RAWIO":      {"iopl", "ioperm"},
	"CAP_SYS_TIME":       {"settimeofday", "clock_settime"},
	"CAP_SYS_TTY_CONFIG": {"vhangup"},
	"CAP_SYSLOG":         {"syslog"},
	"CAP_SYS_NICE":       {"mbind", "set_mempolicy", "get_mempolicy", "move_pages", "migrate_pages"},
	"CAP_BPF":            {"bpf"},
	"CAP_PERFMON":        {"perf_event_open"},
}

// cloneNamespaceFlags are the CLONE_NEW* bits clone(2) accepts in its flags
// argument (CLONE_NEWTIME shares its bit with the exit signal there).
var cloneNamespaceFlags = []uint64{
	unix.CLONE_NEWNS, unix.CLONE_NEWCGROUP, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC,
	unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET,
}

// personalities are the personality(2) values programs legitimately use
// (query, Linux, UNAME26, ADDR_NO_RANDOMIZE and their mix); the rest
// (e.g. READ_IMPLIES_EXEC) weakens exploit mitigations.
var personalities = []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// ioctl requests refused: TIOCSTI pushes input into a terminal (and thus into
// the shell that owns it), TIOCLINUX can do the same on a virtual console.
var deniedIoctls = []uint64{unix.TIOCSTI, unix.TIOCLINUX}

// defaultProfile builds the default profile for a sandbox holding caps
// (canonical "CAP_X" names from cap_add).
func defaultProfile(caps []string) *profile {
	eperm := errnoAction(unix.EPERM)
	granted := map[string]bool{}
	for _, c := range caps {
		for _, s := range capSyscalls[c] {
			granted[s] = true
		}
	}
	allow := append([]string(nil), allowedSyscalls...)
	var deny []string
	for _, s := range deniedSyscalls {
		if granted[s] {
			allow = append(allow, s)
		} else {
			deny = append(deny, s)
		}
	}
	p := &profile{
		defaultAction: errnoAction(unix.ENOSYS),
		badArch:       errnoAction(unix.ENOSYS),
		skipUnknown:   true,
		rules: []rule{
			{names: allow, action: libseccomp.ActAllow},
			{names: deny, action: eperm},
		},
	}
	// clone: threads and fork are fine; a new namespace only with CAP_SYS_ADMIN.
	// clone3 passes its flags in memory seccomp cannot read, so it is not
	// allowed at all (ENOSYS makes glibc and Go fall back to clone).
	if containsString(caps, "CAP_SYS_ADMIN") {
		p.rules = append(p.rules, rule{names: []string{"clone"}, action: libseccomp.ActAllow})
	} else {
		var mask uint64
		for _, f := range cloneNamespaceFlags {
			mask |= f
			// One EPERM rule per bit: libseccomp has no "masked not-equal".
			p.rules = append(p.rules, rule{names: []string{"clone"}, action: eperm,
				conds: []cond{{arg: 0, op: libseccomp.CompareMaskedEqual, v1: f, v2: f}}})
		}
		p.rules = append(p.rules, rule{names: []string{"clone"}, action: libseccomp.ActAllow,
			conds: []cond{{arg: 0, op: libseccomp.CompareMaskedEqual, v1: mask, v2: 0}}})
	}
	// ioctl: the kernel reads the request as a 32-bit int, so compare only the
	// low 32 bits (otherwise TIOCSTI|1<<32 would slip through).
	for _, req := range deniedIoctls {
		p.rules = append(p.rules, rule{names: []string{"ioctl"}, action: eperm,
			conds: []cond{{arg: 1, op: libseccomp.CompareMaskedEqual, v1: 0xffffffff, v2: req}}})
	}
	// The catch-all ioctl rule must carry a condition: an unconditional rule
	// would make libseccomp drop the conditional EPERM rules above. fd >= 0
	// (unsigned) always holds.
	p.rules = append(p.rules, rule{names: []string{"ioctl"}, action: libseccomp.ActAllow,
		conds: []cond{{arg: 0, op: libseccomp.CompareGreaterEqual, v1: 0}}})
	// socket: every family but AF_VSOCK, which reaches the hypervisor and
	// other VMs (Docker refuses it too). Same pattern as ioctl: the family
	// is an int, so compare the low 32 bits.
	p.rules = append(p.rules,
		rule{names: []string{"socket"}, action: eperm,
			conds: []cond{{arg: 0, op: libseccomp.CompareMaskedEqual, v1: 0xffffffff, v2: unix.AF_VSOCK}}},
		rule{names: []string{"socket"}, action: libseccomp.ActAllow,
			conds: []cond{{arg: 0, op: libseccomp.CompareGreaterEqual, v1: 0}}})
	for _, v := range personalities {
		p.rules = append(p.rules, rule{names: []string{"personality"}, action: libseccomp.ActAllow,
			conds: []cond{{arg: 0, op: libseccomp.CompareEqual, v1: v}}})
	}
	return p
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// defaultCache holds the compiled default profile per capability set, so
// compilation happens once per process however many sandboxes start.
var defaultCache sync.Map // key string -> *defaultEntry

type defaultEntry struct {
	once sync.Once
	prog *seccomp.Program
	err  error
}

// Default returns the compiled default profile for a sandbox without added
// capabilities. It is compiled once per process; the result is shared and
// must not be modified.
func Default() (*seccomp.Program, error) { return DefaultFor(nil) }

// DefaultFor returns the default profile for a sandbox whose cap_add lists
// caps: capabilities such as CAP_SYS_PTRACE or CAP_SYS_ADMIN re-allow the
// syscalls they are about. Compiled once per distinct set of such
// capabilities; others (e.g. CAP_NET_BIND_SERVICE) do not change the filter.
func DefaultFor(caps []string) (*seccomp.Program, error) {
	norm := make([]string, 0, len(caps))
	for _, c := range caps {
		c = strings.ToUpper(c)
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		// Only capabilities that change the filter make a different
		// filter (and a separate compilation).
		if _, ok := capSyscalls[c]; ok && !containsString(norm, c) {
			norm = append(norm, c)
		}
	}
	sort.Strings(norm)
	key := strings.Join(norm, ",")
	v, _ := defaultCache.LoadOrStore(key, &defaultEntry{})
	e := v.(*defaultEntry)
	e.once.Do(func() {
		bpf, err := compile(defaultProfile(norm))
		if err != nil {
			e.err = fmt.Errorf("compile default seccomp profile: %w", err)
			return
		}
		prog, err := seccomp.LoadBPF(bpf)
		if err != nil {
			e.err = fmt.Errorf("compile default seccomp profile: %w", err)
			return
		}
		e.prog = prog.WithMode(seccomp.ModeDefault)
	})
	return e.prog, e.err
}
