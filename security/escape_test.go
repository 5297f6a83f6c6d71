package security

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"

	"golang.org/x/sys/unix"
)

// Outcome sets.
var (
	eperm    = []string{"EPERM"}           // refused by seccomp (or a missing capability)
	enosys   = []string{"ENOSYS"}          // refused by seccomp as "not implemented"
	eacces   = []string{"EACCES"}          // /proc/PID access checks of a non-dumpable init
	readOnly = []string{"EROFS", "EACCES"} // read-only mount, or Landlock/permissions
)

// syscallAttempts are run in one sandbox per user namespace mode.
func syscallAttempts(hostCorePattern, hostProfiling string) []attempt {
	return []attempt{
		// Descriptors the caller leaked (first: the probe opens its own later).
		{"openat_leaked_fd3", "openat_fd,3", []string{"EBADF"}},
		{"openat_leaked_fd4", "openat_fd,4", []string{"EBADF"}},
		// The host binary behind PID 1 (nucleus-init) and a sibling's (CVE-2019-5736 class).
		{"pid1_exe_write", "exe_write,/proc/1/exe", eacces},
		{"pid1_exe_reopen", "exe_reopen,/proc/1/exe", []string{"o_path:EACCES"}},
		{"self_exe_write", "exe_write,/proc/self/exe", []string{"ETXTBSY", "EROFS", "EACCES"}},
		{"sibling_exe_write", "sibling_exe_write", []string{"EACCES", "EROFS", "ETXTBSY"}},
		// ETXTBSY where su is the running busybox (the v2 VM).
		{"host_binary_write", "exe_write,/usr/bin/su", append([]string{"ETXTBSY"}, readOnly...)},
		{"host_etc_write", "exe_write,/etc/passwd", readOnly},
		{"pid1_root", "readdir,/proc/1/root", eacces},
		{"pid1_cwd", "readdir,/proc/1/cwd", eacces},
		{"pid1_fds", "open_fds,1", eacces},
		{"pid1_mem", "read,/proc/1/mem", eacces},
		// Another process's memory and descriptors.
		{"ptrace_init", "ptrace_init", eperm},
		{"ptrace_seize_init", "ptrace_seize_init", eperm},
		{"ptrace_sibling", "ptrace_sibling", eperm},
		{"ptrace_traceme", "ptrace_traceme", eperm},
		{"process_vm_readv_init", "process_vm_readv_init", eperm},
		{"process_vm_readv_sibling", "process_vm_readv_sibling", eperm},
		{"process_vm_writev_sibling", "process_vm_writev_sibling", eperm},
		{"pidfd_getfd_init", "pidfd_getfd_init", eperm},
		{"pidfd_getfd_sibling", "pidfd_getfd_sibling", eperm},
		{"kcmp", "kcmp", eperm},
		// Mounts, namespaces, the root.
		{"mount_tmpfs", "mount_tmpfs", eperm},
		{"mount_bind", "mount_bind", eperm},
		{"remount_proc_sys_rw", "remount_rw,/proc/sys", eperm},
		{"remount_sys_rw", "remount_rw,/sys", eperm},
		{"umount_shadow_mask", "umount,/etc/shadow", eperm},
		{"umount_proc_sys", "umount,/proc/sys", eperm},
		{"fsopen", "fsopen", eperm},
		{"open_tree", "open_tree", eperm},
		{"mount_setattr", "mount_setattr", eperm},
		{"pivot_root", "pivot_root", eperm},
		{"chroot", "chroot", eperm},
		{"setns_net", "setns,/proc/self/ns/net", eperm},
		{"setns_pid1_mnt", "setns,/proc/1/ns/mnt", []string{"open:EACCES"}},
		{"unshare_user", "unshare,user", eperm},
		{"unshare_mnt", "unshare,mnt", eperm},
		{"unshare_pid", "unshare,pid", eperm},
		{"unshare_net", "unshare,net", eperm},
		{"unshare_ipc", "unshare,ipc", eperm},
		{"unshare_uts", "unshare,uts", eperm},
		{"unshare_cgroup", "unshare,cgroup", eperm},
		{"unshare_time", "unshare,time", eperm},
		{"unshare_thread_user", "unshare_thread,user", eperm},
		{"clone_newuser", "clone,user", eperm},
		{"clone_newns", "clone,mnt", eperm},
		{"clone_newnet", "clone,net", eperm},
		// Kernel interfaces.
		{"keyctl", "keyctl", eperm},
		{"add_key", "add_key", eperm},
		{"request_key", "request_key", eperm},
		{"bpf", "bpf", eperm},
		{"perf_event_open", "perf_event_open", eperm},
		{"userfaultfd", "userfaultfd", eperm},
		{"dev_userfaultfd", "read,/dev/userfaultfd", []string{"ENOENT"}},
		{"io_uring_setup", "io_uring_setup", enosys},
		{"io_uring_enter", "io_uring_enter", enosys},
		{"io_uring_register", "io_uring_register", enosys},
		{"kexec_load", "kexec_load", eperm},
		{"kexec_file_load", "kexec_file_load", eperm},
		{"open_by_handle_at", "open_by_handle_at", eperm},
		{"init_module", "init_module", eperm},
		{"finit_module", "finit_module", eperm},
		{"delete_module", "delete_module", eperm},
		{"reboot", "reboot", eperm},
		{"swapon", "swapon", eperm},
		{"syslog", "syslog", eperm},
		{"settimeofday", "settimeofday", eperm},
		{"iopl", "iopl", eperm},
		{"acct", "acct", eperm},
		// Sockets (no CAP_NET_RAW; vsock reaches the host or VMs).
		{"raw_socket", "raw_socket", eperm},
		{"raw6_socket", "raw6_socket", eperm},
		{"packet_socket", "packet_socket", eperm},
		{"vsock", "vsock", eperm},
		// /proc/sys, /proc/sysrq-trigger, /sys (each write puts back the host's
		// current value, so even a success would change nothing).
		{"write_core_pattern", "write,/proc/sys/kernel/core_pattern," + hostCorePattern, readOnly},
		{"write_proc_sys_hostname", "write,/proc/sys/kernel/hostname,probe", readOnly},
		{"write_ip_forward", "write,/proc/sys/net/ipv4/ip_forward,1", readOnly},
		{"write_sysrq", "write,/proc/sysrq-trigger,h", append([]string{"ENOENT"}, readOnly...)},
		{"write_sys_profiling", "write,/sys/kernel/profiling," + hostProfiling, readOnly},
		{"write_sys_lo_mtu", "write,/sys/class/net/lo/mtu,65536", readOnly},
		{"create_sys_cgroup", "create,/sys/fs/cgroup/probe", append([]string{"ENOENT"}, readOnly...)},
		// The writable volume (same file system as /usr/bin/su): hard links
		// to setuid binaries, device nodes, file capabilities.
		{"link_su", "link,/usr/bin/su,/vol/su", []string{"EXDEV"}},
		{"link_passwd", "link,/usr/bin/passwd,/vol/passwd", []string{"EXDEV"}},
		{"mknod", "mknod,/vol/null", []string{"EPERM", "EACCES"}},
		{"create_capfile", "create,/vol/capfile", []string{"ok"}},
		{"setcap", "setcap,/vol/capfile", eperm},
		// Descriptors and the working directory of the caller.
		{"cwd", "cwd", []string{"/"}},
	}
}

// hostState is what the attempts must not change on the host.
type hostState map[string]string

func snapshot(t *testing.T, vol string) hostState {
	t.Helper()
	s := hostState{
		"nucleus-init sha256": sha(t, initBin),
		"busybox sha256":      sha(t, "/bin/busybox"),
		"probe sha256":        sha(t, filepath.Join(probeDir, "escape-probe")),
		"core_pattern":        readTrim(t, "/proc/sys/kernel/core_pattern"),
		"profiling":           readTrim(t, "/sys/kernel/profiling"),
	}
	h, _ := os.Hostname()
	s["hostname"] = h
	for _, p := range []string{"/usr/bin/su", "/usr/bin/passwd"} {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil {
			s[p+" links"] = string(rune('0' + st.Nlink))
		}
	}
	// What the volume holds that a host user could run or open with
	// privileges: setuid/setgid files, devices, file capabilities.
	var bad []string
	filepath.Walk(vol, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		m := fi.Mode()
		if m&(os.ModeSetuid|os.ModeSetgid|os.ModeDevice|os.ModeCharDevice) != 0 {
			bad = append(bad, p+" "+m.String())
		}
		if n, _ := unix.Lgetxattr(p, "security.capability", nil); n > 0 {
			bad = append(bad, p+" has security.capability")
		}
		return nil
	})
	s["volume privileged files"] = strings.Join(bad, "; ")
	return s
}

func (before hostState) same(t *testing.T, after hostState) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("host changed: %s was %q, now %q", k, v, after[k])
		}
	}
	if after["volume privileged files"] != "" {
		t.Errorf("the sandbox planted privileged files in a host directory: %s", after["volume privileged files"])
	}
}

// TestSandboxEscapes runs every syscall-level attempt of the review from
// inside one default sandbox per user namespace mode, with two host
// descriptors open in the caller (fd 3: a directory, fd 4: a file) and the
// caller's working directory in a host directory holding a secret file.
func TestSandboxEscapes(t *testing.T) {
	for _, userns := range []string{"private", "host"} {
		t.Run("userns="+userns, func(t *testing.T) {
			e := newEnv(t)
			vol := t.TempDir()
			if err := os.Chmod(vol, 0o777); err != nil { // writable whatever the volume's owner mapping
				t.Fatal(err)
			}
			secretDir := t.TempDir()
			secret := "host-secret-" + testutil.RandHex(4)
			if err := os.WriteFile(filepath.Join(secretDir, secret), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			dirFD, err := os.Open(secretDir)
			if err != nil {
				t.Fatal(err)
			}
			defer dirFD.Close()
			fileFD, err := os.OpenFile(filepath.Join(secretDir, secret), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer fileFD.Close()
			as := syscallAttempts(readTrim(t, "/proc/sys/kernel/core_pattern"), readTrim(t, "/sys/kernel/profiling"))
			as = append(as,
				attempt{"secret_from_cwd", "stat," + secret, []string{"ENOENT"}},
				attempt{"secret_via_pid1_cwd", "stat,/proc/1/cwd/" + secret, eacces})
			before := snapshot(t, vol)
			got := e.probe(func(c *exec.Cmd) {
				c.Dir = secretDir
				c.ExtraFiles = []*os.File{dirFD, fileFD}
			}, []string{"--userns", userns, "-v", vol + ":/vol"}, args(as)...)
			t.Logf("report: %v", got)
			if got["fds"] != "0,1,2" {
				t.Errorf("descriptors open in the workload: %s, want 0,1,2", got["fds"])
			}
			check(t, got, as)
			before.same(t, snapshot(t, vol))
		})
	}
}

// TestAttemptsWorkWithoutProtection is the suite's own check that it can
// fail: the same probe, in a sandbox with seccomp unconfined, Landlock off,
// the host's user namespace and the capabilities the attempts need, must
// succeed at the attempts that only seccomp, capabilities and Landlock stop.
// (Attempts that would change the host even here — kexec, reboot, module
// loading, clock, swap, accounting — are left out.)
func TestAttemptsWorkWithoutProtection(t *testing.T) {
	e := newEnv(t)
	vol := t.TempDir()
	as := []attempt{
		{"ptrace_sibling", "ptrace_sibling", []string{"ok"}},
		{"process_vm_readv_sibling", "process_vm_readv_sibling", []string{"ok"}},
		{"pidfd_getfd_sibling", "pidfd_getfd_sibling", []string{"ok"}},
		{"kcmp", "kcmp", []string{"ok"}},
		{"mount_tmpfs", "mount_tmpfs", []string{"ok"}},
		{"unshare_user", "unshare,user", []string{"ok"}},
		{"unshare_mnt", "unshare,mnt", []string{"ok"}},
		{"unshare_net", "unshare,net", []string{"ok"}},
		{"clone_newuser", "clone,user", []string{"ok"}},
		{"setns_net", "setns,/proc/self/ns/net", []string{"ok"}},
		{"keyctl", "keyctl", []string{"ok"}},
		{"bpf", "bpf", []string{"ok"}},
		{"perf_event_open", "perf_event_open", []string{"ok"}},
		{"userfaultfd", "userfaultfd", []string{"ok"}},
		{"io_uring_setup", "io_uring_setup", []string{"ok"}},
		{"raw_socket", "raw_socket", []string{"ok"}},
		{"packet_socket", "packet_socket", []string{"ok"}},
		{"vsock", "vsock", []string{"ok", "EAFNOSUPPORT"}},
		{"syslog", "syslog", []string{"ok"}},
		{"mknod", "mknod,/vol/null", []string{"ok"}},
		{"create_capfile", "create,/vol/capfile", []string{"ok"}},
		{"setcap", "setcap,/vol/capfile", []string{"ok"}},
		{"tiocsti", "tiocsti", []string{"ok", "ENOTTY", "EIO"}},
		{"open_by_handle_at", "open_by_handle_at", []string{"ok", "ESTALE", "EINVAL"}},
		{"pivot_root", "pivot_root", []string{"ok", "EINVAL", "EBUSY"}},
	}
	got := e.probe(nil, []string{"--seccomp", "unconfined", "--landlock", "off", "--userns", "host",
		"--cap-add", "SYS_ADMIN", "--cap-add", "SYS_PTRACE", "--cap-add", "NET_RAW", "--cap-add", "SYSLOG",
		"--cap-add", "MKNOD", "--cap-add", "SETFCAP", "--cap-add", "DAC_READ_SEARCH", "--cap-add", "IPC_LOCK",
		"-v", vol + ":/vol"}, args(as)...)
	t.Logf("report: %v", got)
	check(t, got, as)
}
