// Command probe runs inside a test sandbox and reports, as JSON on stdout,
// what the sandbox allows: capabilities, no_new_privs, seccomp mode, open
// fds, and the errno of operations a sandbox must refuse. Built statically
// by the runtime tests.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

func errno(err error) string {
	if err == nil {
		return "ok"
	}
	if e, ok := err.(unix.Errno); ok {
		return unix.ErrnoName(e)
	}
	if pe, ok := err.(*os.PathError); ok {
		return errno(pe.Err)
	}
	return err.Error()
}

func raw(_, _ uintptr, e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func status() map[string]string {
	out := map[string]string{}
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func main() {
	// Inherited fds, checked before this program opens any of its own.
	var fds []string
	for fd := 0; fd < 1024; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds = append(fds, fmt.Sprint(fd))
		}
	}
	r := map[string]any{}
	st := status()
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Uid"} {
		r[k] = st[k]
	}
	r["fds"] = strings.Join(fds, ",")
	um, _ := os.ReadFile("/proc/self/uid_map")
	r["uid_map"] = strings.Join(strings.Fields(string(um)), " ")
	c1, _ := os.ReadFile("/proc/1/cmdline")
	r["pid1"] = strings.ReplaceAll(string(c1), "\x00", " ")

	r["mount"] = errno(unix.Mount("tmpfs", "/tmp", "tmpfs", 0, ""))
	r["unshare_user"] = errno(unix.Unshare(unix.CLONE_NEWUSER))
	r["unshare_mnt"] = errno(unix.Unshare(unix.CLONE_NEWNS))
	r["io_uring_setup"] = errno(raw(unix.Syscall(unix.SYS_IO_URING_SETUP, 1, 0, 0)))
	if fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0); err == nil {
		unix.Close(fd)
		r["vsock"] = "ok"
	} else {
		r["vsock"] = errno(err)
	}
	var c byte = 'x'
	r["tiocsti"] = errno(raw(unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))))
	r["write_usr"] = errno(os.WriteFile("/usr/.probe", []byte("x"), 0o644))
	r["write_tmp"] = errno(os.WriteFile("/tmp/.probe", []byte("x"), 0o644))
	r["write_dev"] = errno(os.WriteFile("/dev/.probe", []byte("x"), 0o644))
	sh, err := os.ReadFile("/etc/shadow")
	r["shadow"] = fmt.Sprintf("%s:%d", errno(err), len(sh))
	_, err = os.ReadDir("/root")
	r["root_dir"] = errno(err)
	_, err = os.ReadDir("/home")
	r["home_dir"] = errno(err)
	f, err := os.OpenFile("/proc/1/exe", os.O_WRONLY, 0)
	if err == nil {
		f.Close()
	}
	r["pid1_exe_write"] = errno(err)
	f, err = os.Open("/proc/1/exe")
	if err == nil {
		f.Close()
	}
	r["pid1_exe_read"] = errno(err)
	for _, a := range os.Args[1:] {
		// Extra files to try writing: "write:/path".
		if p, ok := strings.CutPrefix(a, "write:"); ok {
			r["write:"+p] = errno(os.WriteFile(p, []byte("probe\n"), 0o644))
		}
		if p, ok := strings.CutPrefix(a, "read:"); ok {
			b, err := os.ReadFile(p)
			r["read:"+p] = errno(err) + ":" + strings.TrimSpace(string(b))
		}
	}
	h, _ := os.Hostname()
	r["hostname"] = h
	wd, _ := os.Getwd()
	r["cwd"] = wd
	json.NewEncoder(os.Stdout).Encode(r)
}
