package compiler

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"nucleus/internal/procstat"
	"nucleus/internal/testutil"
	"nucleus/runtime/seccomp"

	"golang.org/x/sys/unix"
)

// Filters are irreversible, so every test that installs one re-executes the
// test binary as a child: TestMain sees childEnv, installs the program named
// by it, runs the probes and prints their results as JSON on stdout.
const (
	childEnv     = "NUCLEUS_SECCOMP_TEST_CHILD" // scenario name
	childFileEnv = "NUCLEUS_SECCOMP_TEST_FILE"  // BPF or profile input
)

func TestMain(m *testing.M) {
	if scenario := os.Getenv(childEnv); scenario != "" {
		os.Exit(runChild(scenario, os.Getenv(childFileEnv)))
	}
	os.Exit(m.Run())
}

// probeResult is one probe: the errno it ended with ("" for success) or,
// for string probes, the observed value.
type childReport struct {
	Errno  map[string]string `json:"errno"`
	Values map[string]string `json:"values"`
	Err    string            `json:"err,omitempty"`
}

func runChild(scenario, file string) int {
	rep := childReport{Errno: map[string]string{}, Values: map[string]string{}}
	defer func() {
		_ = json.NewEncoder(os.Stdout).Encode(rep)
	}()
	start := time.Now()
	prog, err := childProgram(scenario, file)
	if err == nil {
		if scenario != "bench-libseccomp" { // that one counts compilation too
			start = time.Now()
		}
		if scenario == "thread" || scenario == "bench-thread" {
			runtime.LockOSThread() // never unlocked
			err = prog.InstallThread()
		} else {
			err = prog.Install()
		}
	}
	rep.Values["install_ns"] = fmt.Sprint(time.Since(start).Nanoseconds())
	rep.Values["thread_seccomp"] = statusField("/proc/thread-self/status", "Seccomp")
	if err != nil {
		rep.Err = err.Error()
		return 0
	}
	if strings.HasPrefix(scenario, "bench") {
		return 0
	}
	probe(&rep)
	return 0
}

func childProgram(scenario, file string) (*seccomp.Program, error) {
	switch scenario {
	case "bpf", "bench-install", "thread", "bench-thread":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return seccomp.LoadBPF(data)
	case "ptrace-cap":
		return DefaultFor([]string{"CAP_SYS_PTRACE"})
	case "admin-cap":
		return DefaultFor([]string{"CAP_SYS_ADMIN"})
	case "oci":
		return LoadProfileFile(file)
	case "unconfined":
		return seccomp.Unconfined(), nil
	case "bench-libseccomp":
		// The alternative to shipping BPF: compile in the child itself.
		return DefaultFor([]string{"bench"})
	}
	return nil, fmt.Errorf("unknown scenario %q", scenario)
}

func errnoString(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := err.(unix.Errno); ok {
		return unix.ErrnoName(e)
	}
	return err.Error()
}

func rawErr(_, _ uintptr, e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// probe runs every syscall the tests make assertions about. Arguments are
// chosen so that without a filter the kernel fails (or harmlessly succeeds)
// with a different result, and nothing changes the host even if the filter
// were missing.
func probe(rep *childReport) {
	e := rep.Errno
	// Not in the allowlist at all: the default action.
	e["clone3"] = errnoString(rawErr(unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)))
	e["io_uring_setup"] = errnoString(rawErr(unix.Syscall(unix.SYS_IO_URING_SETUP, 0, 0, 0)))
	e["personality_read_implies_exec"] = errnoString(rawErr(unix.Syscall(unix.SYS_PERSONALITY, 0x0400000 /* READ_IMPLIES_EXEC */, 0, 0)))
	// Dangerous ones: EPERM. Without a filter these give ENOENT/EINVAL/EBADF/...
	e["mount"] = errnoString(unix.Mount("none", "/nonexistent-nucleus-seccomp-test", "tmpfs", 0, ""))
	e["umount2"] = errnoString(unix.Unmount("/nonexistent-nucleus-seccomp-test", 0))
	e["unshare_newuser"] = errnoString(unix.Unshare(unix.CLONE_NEWUSER))
	e["setns"] = errnoString(unix.Setns(-1, 0))
	e["bpf"] = errnoString(rawErr(unix.Syscall(unix.SYS_BPF, 0, 0, 0)))
	e["keyctl"] = errnoString(rawErr(unix.Syscall(unix.SYS_KEYCTL, 0xffff, 0, 0)))
	e["add_key"] = errnoString(rawErr(unix.Syscall6(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0, 0)))
	e["pivot_root"] = errnoString(unix.PivotRoot("/nonexistent-a", "/nonexistent-b"))
	e["chroot"] = errnoString(unix.Chroot("/nonexistent-nucleus-seccomp-test"))
	e["perf_event_open"] = errnoString(rawErr(unix.Syscall6(unix.SYS_PERF_EVENT_OPEN, 0, 0, 0, 0, 0, 0)))
	e["ptrace"] = errnoString(rawErr(unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_ATTACH, 0x7ffffff0, 0, 0, 0, 0)))
	e["userfaultfd"] = errnoString(rawErr(unix.Syscall(unix.SYS_USERFAULTFD, 0xffffffff, 0, 0)))
	e["open_by_handle_at"] = errnoString(rawErr(unix.Syscall(unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(0), 0, 0)))
	e["init_module"] = errnoString(rawErr(unix.Syscall(unix.SYS_INIT_MODULE, 0, 0, 0)))
	e["kexec_load"] = errnoString(rawErr(unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0xffffffff, 0, 0)))
	// clone with a namespace flag; CLONE_FS / CLONE_THREAD make the kernel
	// itself reject the call (EINVAL) so no process is ever forked here.
	e["clone_newuser"] = errnoString(rawErr(unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS, 0, 0, 0, 0, 0)))
	e["clone_newnet"] = errnoString(rawErr(unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWNET|unix.CLONE_THREAD, 0, 0, 0, 0, 0)))
	e["clone_thread_plain"] = errnoString(rawErr(unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_THREAD, 0, 0, 0, 0, 0)))
	// ioctl: TIOCSTI on /dev/null is ENOTTY without a filter; the upper
	// 32 bits must not let it slip through.
	if f, err := os.Open("/dev/null"); err == nil {
		c := byte('x')
		fd := f.Fd()
		e["ioctl_tiocsti"] = errnoString(rawErr(unix.Syscall(unix.SYS_IOCTL, fd, unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))))
		e["ioctl_tiocsti_high"] = errnoString(rawErr(unix.Syscall(unix.SYS_IOCTL, fd, 1<<32|unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))))
		e["ioctl_tioclinux"] = errnoString(rawErr(unix.Syscall(unix.SYS_IOCTL, fd, unix.TIOCLINUX, uintptr(unsafe.Pointer(&c)))))
		e["ioctl_tcgets"] = errnoString(rawErr(unix.Syscall(unix.SYS_IOCTL, fd, unix.TCGETS, uintptr(unsafe.Pointer(new(unix.Termios))))))
		f.Close()
	}
	// Normal work.
	e["personality_query"] = errnoString(rawErr(unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)))
	dir, err := os.MkdirTemp("", "nucleus-seccomp-child")
	if err == nil {
		p := dir + "/f"
		err = os.WriteFile(p, []byte("hello"), 0o600)
		if err == nil {
			var b []byte
			b, err = os.ReadFile(p)
			if err == nil && string(b) != "hello" {
				err = fmt.Errorf("read back %q", b)
			}
		}
		os.RemoveAll(dir)
	}
	e["file_io"] = errnoString(err)
	// New OS threads (clone without namespace flags).
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // keep it; the thread exits with the goroutine
			time.Sleep(10 * time.Millisecond)
		}()
	}
	wg.Wait()
	// fork + execve; the child inherits the filter.
	out, err := exec.Command("/bin/sh", "-c", "grep '^Seccomp:' /proc/self/status").Output()
	e["fork_exec"] = errnoString(err)
	rep.Values["exec_seccomp"] = strings.TrimSpace(string(out))
	rep.Values["seccomp"], rep.Values["nnp"] = statusField("/proc/self/status", "Seccomp"), statusField("/proc/self/status", "NoNewPrivs")
	// Every thread must be filtered (TSYNC).
	tasks, _ := os.ReadDir("/proc/self/task")
	unfiltered := 0
	for _, t := range tasks {
		if statusField("/proc/self/task/"+t.Name()+"/status", "Seccomp") != "2" {
			unfiltered++
		}
	}
	rep.Values["threads"] = fmt.Sprint(len(tasks))
	rep.Values["unfiltered_threads"] = fmt.Sprint(unfiltered)
	// A realistic userland: glibc tools (posix_spawn tries clone3 first),
	// a pipeline, a background job, perl with fork, tar+gzip.
	script := `set -e
d=$(mktemp -d)
ls -la /usr/bin >/dev/null
sort /etc/passwd | head -n 3 >/dev/null
date >/dev/null
(sleep 0.01 &); wait
tar -C /usr/share -czf "$d/a.tgz" common-licenses 2>/dev/null || tar -C /etc -czf "$d/a.tgz" passwd
tar -tzf "$d/a.tgz" >/dev/null
perl -e 'my $p = fork(); if ($p == 0) { exit 7 } waitpid($p, 0); exit(($? >> 8) == 7 ? 0 : 1)'
busybox sh -c 'echo ok' >/dev/null
rm -rf "$d"`
	out, err = exec.Command("/bin/sh", "-c", script).CombinedOutput()
	e["userland"] = errnoString(err)
	rep.Values["userland_output"] = string(out)
	// OCI scenario probes (harmless elsewhere).
	_, err = unix.Getcwd(make([]byte, 4096))
	e["getcwd"] = errnoString(err)
	e["fchdir_1000"] = errnoString(unix.Fchdir(1000))
	e["fchdir_1001"] = errnoString(unix.Fchdir(1001))
}

// statusField is procstat.StatusField, "?" when it cannot tell.
func statusField(path, key string) string {
	v, err := procstat.StatusField(path, key)
	if err != nil {
		return "?"
	}
	return v
}

// runChildScenario re-executes the test binary in scenario and decodes its report.
func runChildScenario(t testing.TB, scenario, file string) childReport {
	t.Helper()
	rep := testutil.RunChild[childReport](t, scenario, childEnv+"="+scenario, childFileEnv+"="+file)
	if rep.Err != "" {
		t.Fatalf("child %s: %s", scenario, rep.Err)
	}
	return rep
}
