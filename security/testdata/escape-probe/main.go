// Command probe is the attacker of the escape regression suite: run inside a
// sandbox, it performs one attempt per argument, in order, and prints a JSON
// object mapping each attempt's label to its outcome: "ok" when the attempt
// succeeded, the errno name (EPERM, EACCES, ENOSYS, EROFS, ...) when the
// kernel refused it, or a short description. Built statically
// (CGO_ENABLED=0) by the security tests and bind-mounted read-only.
//
// An argument is LABEL=KIND[,ARG...] or just KIND (the label is then the
// kind). Kinds are listed in the attempts table below.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func errno(err error) string {
	if err == nil {
		return "ok"
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	return strings.ReplaceAll(err.Error(), ",", ";")
}

func raw(_, _ uintptr, e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func sys(nr uintptr, a ...uintptr) error {
	var x [6]uintptr
	copy(x[:], a)
	return raw(unix.Syscall6(nr, x[0], x[1], x[2], x[3], x[4], x[5]))
}

func ptr(s string) uintptr {
	b, _ := unix.BytePtrFromString(s)
	return uintptr(unsafe.Pointer(b))
}

// sibling starts a harmless process next to the probe (a host binary from
// the sandbox's read-only system directories) and returns its pid.
var siblingProc *os.Process

func sibling() int {
	if siblingProc == nil {
		cmd := exec.Command("/bin/busybox", "sleep", "30")
		if err := cmd.Start(); err != nil {
			return -1
		}
		siblingProc = cmd.Process
		time.Sleep(20 * time.Millisecond)
	}
	return siblingProc.Pid
}

// firstMapping returns the start of pid's first readable mapping, so that a
// process_vm_readv that is allowed would really read something.
func firstMapping(pid int) uintptr {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0x400000
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && strings.HasPrefix(f[1], "r") {
			a, _ := strconv.ParseUint(strings.Split(f[0], "-")[0], 16, 64)
			return uintptr(a)
		}
	}
	return 0x400000
}

func vmRead(pid int) error {
	buf := make([]byte, 16)
	_, err := unix.ProcessVMReadv(pid, []unix.Iovec{{Base: &buf[0], Len: 16}},
		[]unix.RemoteIovec{{Base: firstMapping(pid), Len: 16}}, 0)
	return err
}

func pidfdGetfd(pid int) string {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return "pidfd_open:" + errno(err)
	}
	defer unix.Close(pfd)
	fd, err := unix.PidfdGetfd(pfd, 0, 0)
	if err == nil {
		unix.Close(fd)
	}
	return errno(err)
}

// inChild runs /proc/self/exe (a no-op) with the given clone and unshare
// flags: unshare happens in a single-threaded child, as a real attacker
// would do it (a multi-threaded Go process cannot unshare everything).
func inChild(clone, unshare uintptr) error {
	cmd := exec.Command("/proc/self/exe", "noop")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: clone, Unshareflags: unshare}
	if clone&unix.CLONE_NEWUSER != 0 {
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	return cmd.Run()
}

var nsFlags = map[string]uintptr{
	"user": unix.CLONE_NEWUSER, "mnt": unix.CLONE_NEWNS, "pid": unix.CLONE_NEWPID, "net": unix.CLONE_NEWNET,
	"ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS, "cgroup": unix.CLONE_NEWCGROUP, "time": unix.CLONE_NEWTIME,
}

func open(path string, flags int) error {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

func socket(domain, typ, proto int) error {
	fd, err := unix.Socket(domain, typ, proto)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// --- network attempts ---

func udpSend(dst, src, payload string) error {
	d := net.Dialer{Timeout: time.Second}
	if src != "" {
		d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("udp4", dst)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte(payload)); err != nil {
		return err
	}
	// A rejecting rule answers with ICMP; the next write reports it.
	time.Sleep(50 * time.Millisecond)
	_, err = c.Write([]byte(payload))
	return err
}

func tcpConnect(dst, src string) error {
	d := net.Dialer{Timeout: 1500 * time.Millisecond}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp4", dst)
	if err != nil {
		return err
	}
	c.Close()
	return nil
}

func csum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// ipUDP builds an IPv4 packet carrying one UDP datagram.
func ipUDP(src, dst net.IP, dport int, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0], p[8], p[9] = 0x45, 64, unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	copy(p[12:16], src.To4())
	copy(p[16:20], dst.To4())
	binary.BigEndian.PutUint16(p[10:], csum(p[:20]))
	binary.BigEndian.PutUint16(p[20:], 40000)
	binary.BigEndian.PutUint16(p[22:], uint16(dport))
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	return p // UDP checksum 0: none
}

// rawUDP sends a datagram with a forged IPv4 source through a raw socket
// (IP_HDRINCL; needs CAP_NET_RAW).
func rawUDP(src, dst string, port int, payload string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	d := net.ParseIP(dst).To4()
	sa := &unix.SockaddrInet4{}
	copy(sa.Addr[:], d)
	return unix.Sendto(fd, ipUDP(net.ParseIP(src), d, port, []byte(payload)), 0, sa)
}

func ifaceOf(name string) (*net.Interface, error) { return net.InterfaceByName(name) }

// frame sends one Ethernet frame on dev through a packet socket.
func frame(dev string, dst, src net.HardwareAddr, ethType uint16, body []byte) error {
	ifc, err := ifaceOf(dev)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	f := make([]byte, 14+len(body))
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], ethType)
	copy(f[14:], body)
	sa := &unix.SockaddrLinklayer{Ifindex: ifc.Index, Protocol: htons(ethType), Halen: 6}
	copy(sa.Addr[:], dst)
	return unix.Sendto(fd, f, 0, sa)
}

// gatewayMAC reads the default gateway's MAC from the ARP cache.
func gatewayMAC() (net.HardwareAddr, string, error) {
	gw := gateway()
	b, err := os.ReadFile("/proc/net/arp")
	if err != nil {
		return nil, gw, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == gw {
			m, err := net.ParseMAC(f[3])
			return m, gw, err
		}
	}
	return nil, gw, fmt.Errorf("no ARP entry for %s", gw)
}

func gateway() string {
	b, _ := os.ReadFile("/proc/net/route")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && f[1] == "00000000" {
			v, _ := strconv.ParseUint(f[2], 16, 32)
			return net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24)).String()
		}
	}
	return ""
}

// arpClaim broadcasts a gratuitous ARP reply saying that ip is at our MAC
// (or at mac when given).
func arpClaim(dev, ip, mac string) error {
	ifc, err := ifaceOf(dev)
	if err != nil {
		return err
	}
	hw := ifc.HardwareAddr
	if mac != "" {
		if hw, err = net.ParseMAC(mac); err != nil {
			return err
		}
	}
	body := make([]byte, 28)
	binary.BigEndian.PutUint16(body[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(body[2:], 0x0800) // IPv4
	body[4], body[5] = 6, 4
	binary.BigEndian.PutUint16(body[6:], 2) // reply
	copy(body[8:14], hw)
	copy(body[14:18], net.ParseIP(ip).To4())
	copy(body[18:24], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(body[24:28], net.ParseIP(ip).To4())
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if err := frame(dev, bcast, hw, unix.ETH_P_ARP, body); err != nil {
		return err
	}
	binary.BigEndian.PutUint16(body[6:], 1) // and a request
	return frame(dev, bcast, hw, unix.ETH_P_ARP, body)
}

// packetUDP sends a UDP datagram in a hand-made frame: forged source MAC
// and IPv4 source, straight to the gateway's MAC.
func packetUDP(dev, srcMAC, src, dst string, port int, payload string) error {
	gwMAC, _, err := gatewayMAC()
	if err != nil {
		return err
	}
	sm, err := net.ParseMAC(srcMAC)
	if err != nil {
		return err
	}
	return frame(dev, gwMAC, sm, unix.ETH_P_IP, ipUDP(net.ParseIP(src), net.ParseIP(dst), port, []byte(payload)))
}

func addrAdd(dev, cidr string) error {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return err
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	return netlink.AddrAdd(l, a)
}

func setMAC(dev, mac string) error {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return err
	}
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return err
	}
	return netlink.LinkSetHardwareAddr(l, hw)
}

func info(dev string) string {
	ifc, err := ifaceOf(dev)
	if err != nil {
		return errno(err)
	}
	addrs, _ := ifc.Addrs()
	ip := ""
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			ip = n.String()
			break
		}
	}
	return ip + " " + ifc.HardwareAddr.String() + " " + gateway()
}

// dnsQuery asks server (port 53) and reports "RCODE answers...".
func dnsQuery(server, netw string, m *mdns.Msg) string {
	c := mdns.Client{Net: netw, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, net.JoinHostPort(server, "53"))
	if err != nil {
		return errno(err)
	}
	out := mdns.RcodeToString[r.Rcode]
	for _, a := range r.Answer {
		if x, ok := a.(*mdns.A); ok {
			out += " " + x.A.String()
		}
	}
	return out
}

func question(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	return m
}

func attempt(kind string, a []string) string {
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	num := func(i int) int { n, _ := strconv.Atoi(arg(i)); return n }
	switch kind {
	// The host binary behind PID 1 and a sibling (CVE-2019-5736 class).
	case "exe_write": // exe_write,PATH: open for writing
		return errno(open(arg(0), unix.O_WRONLY))
	case "exe_reopen": // exe_reopen,PATH: O_PATH, then reopen through /proc/self/fd for writing
		fd, err := unix.Open(arg(0), unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return "o_path:" + errno(err)
		}
		defer unix.Close(fd)
		return errno(open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_WRONLY))
	case "sibling_exe_write":
		return errno(open(fmt.Sprintf("/proc/%d/exe", sibling()), unix.O_WRONLY))
	case "readdir":
		_, err := os.ReadDir(arg(0))
		return errno(err)
	case "open_fds": // open_fds,PID: open every descriptor of PID through /proc
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%s/fd", arg(0)))
		if err != nil {
			return "readdir:" + errno(err)
		}
		res := "none"
		for _, e := range ents {
			err := open(fmt.Sprintf("/proc/%s/fd/%s", arg(0), e.Name()), unix.O_RDONLY|unix.O_NONBLOCK)
			if err == nil {
				return "ok"
			}
			res = errno(err)
		}
		return res
	case "ptrace_init":
		return errno(unix.PtraceAttach(1))
	case "ptrace_seize_init":
		return errno(sys(unix.SYS_PTRACE, unix.PTRACE_SEIZE, 1, 0, 0))
	case "ptrace_sibling":
		err := unix.PtraceAttach(sibling())
		if err == nil {
			unix.PtraceDetach(sibling())
		}
		return errno(err)
	case "ptrace_traceme":
		return errno(sys(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0, 0))
	case "process_vm_readv_init":
		return errno(vmRead(1))
	case "process_vm_readv_sibling":
		return errno(vmRead(sibling()))
	case "process_vm_writev_sibling":
		buf := []byte{0}
		_, err := unix.ProcessVMWritev(sibling(), []unix.Iovec{{Base: &buf[0], Len: 1}},
			[]unix.RemoteIovec{{Base: firstMapping(sibling()), Len: 1}}, 0)
		return errno(err)
	case "pidfd_getfd_init":
		return pidfdGetfd(1)
	case "pidfd_getfd_sibling":
		return pidfdGetfd(sibling())
	case "kcmp":
		return errno(sys(unix.SYS_KCMP, 1, uintptr(os.Getpid()), 0, 0, 0))
	// Descriptors and the working directory.
	case "openat_fd": // openat_fd,N: open ".." relative to fd N
		fd, err := unix.Openat(num(0), "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return errno(err)
	case "stat": // stat,PATH (relative paths start at the cwd)
		_, err := os.Stat(arg(0))
		return errno(err)
	case "cwd":
		wd, err := os.Getwd()
		if err != nil {
			return errno(err)
		}
		return wd
	// Mounts and namespaces.
	case "mount_tmpfs":
		return errno(unix.Mount("tmpfs", "/tmp", "tmpfs", 0, ""))
	case "mount_bind":
		return errno(unix.Mount("/", "/tmp", "", unix.MS_BIND|unix.MS_REC, ""))
	case "remount_rw": // remount_rw,PATH
		return errno(unix.Mount("", arg(0), "", unix.MS_REMOUNT|unix.MS_BIND, ""))
	case "umount": // umount,PATH (lifting a mask or a read-only /proc/sys)
		return errno(unix.Unmount(arg(0), unix.MNT_DETACH))
	case "fsopen":
		fd, err := unix.Fsopen("tmpfs", 0)
		if err == nil {
			unix.Close(fd)
		}
		return errno(err)
	case "open_tree":
		fd, err := unix.OpenTree(unix.AT_FDCWD, "/etc", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err == nil {
			unix.Close(fd)
		}
		return errno(err)
	case "mount_setattr":
		return errno(unix.MountSetattr(unix.AT_FDCWD, "/usr", 0, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}))
	case "unshare": // unshare,NS in a fresh single-threaded child
		return errno(inChild(0, nsFlags[arg(0)]))
	case "clone": // clone,NS: a child born in a new namespace
		return errno(inChild(nsFlags[arg(0)], 0))
	case "unshare_thread": // unshare,NS on the calling thread
		return errno(unix.Unshare(int(nsFlags[arg(0)])))
	case "setns": // setns,PATH
		fd, err := unix.Open(arg(0), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "open:" + errno(err)
		}
		defer unix.Close(fd)
		return errno(unix.Setns(fd, 0))
	case "pivot_root":
		return errno(unix.PivotRoot("/tmp", "/tmp"))
	case "chroot":
		return errno(unix.Chroot("/tmp"))
	// Kernel interfaces a sandbox has no business with.
	case "keyctl":
		_, err := unix.KeyctlJoinSessionKeyring("probe")
		return errno(err)
	case "add_key":
		_, err := unix.AddKey("user", "probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return errno(err)
	case "request_key":
		_, err := unix.RequestKey("user", "probe", "", unix.KEY_SPEC_PROCESS_KEYRING)
		return errno(err)
	case "bpf":
		attr := [48]byte{}
		binary.LittleEndian.PutUint32(attr[0:], 2)  // BPF_MAP_TYPE_ARRAY
		binary.LittleEndian.PutUint32(attr[4:], 4)  // key size
		binary.LittleEndian.PutUint32(attr[8:], 4)  // value size
		binary.LittleEndian.PutUint32(attr[12:], 1) // entries
		fd, _, e := unix.Syscall(unix.SYS_BPF, 0 /* BPF_MAP_CREATE */, uintptr(unsafe.Pointer(&attr)), 48)
		if e == 0 {
			unix.Close(int(fd))
		}
		return errno(raw(0, 0, e))
	case "perf_event_open":
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK, Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{}))}
		fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, 0)
		if err == nil {
			unix.Close(fd)
		}
		return errno(err)
	case "userfaultfd":
		fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
		if e == 0 {
			unix.Close(int(fd))
		}
		return errno(raw(0, 0, e))
	case "io_uring_setup":
		params := [120]byte{}
		fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
		if e == 0 {
			unix.Close(int(fd))
		}
		return errno(raw(0, 0, e))
	case "io_uring_enter":
		return errno(sys(unix.SYS_IO_URING_ENTER, ^uintptr(0), 0, 0, 0, 0, 0))
	case "io_uring_register":
		return errno(sys(unix.SYS_IO_URING_REGISTER, ^uintptr(0), 0, 0, 0))
	case "kexec_load": // nr_segments 0, flags 0: would unload a crash kernel at most
		return errno(sys(unix.SYS_KEXEC_LOAD, 0, 0, 0, unix.KEXEC_ON_CRASH))
	case "kexec_file_load": // an invalid fd: at most EBADF
		return errno(sys(unix.SYS_KEXEC_FILE_LOAD, ^uintptr(0), ^uintptr(0), 0, 0, 0))
	case "open_by_handle_at":
		// The "shocker" handle of a root directory on ext4: type 1, inode 2.
		h := unix.NewFileHandle(1, binary.LittleEndian.AppendUint64(nil, 2))
		fd, err := unix.OpenByHandleAt(unix.AT_FDCWD, h, unix.O_RDONLY)
		if err == nil {
			unix.Close(fd)
		}
		return errno(err)
	case "init_module": // an empty image: at most ENOEXEC
		buf := []byte{0}
		return errno(unix.InitModule(buf[:0], ""))
	case "finit_module": // /dev/null: at most ENOEXEC
		fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
		if err != nil {
			return "open:" + errno(err)
		}
		defer unix.Close(fd)
		return errno(unix.FinitModule(fd, "", 0))
	case "delete_module": // a module that does not exist
		return errno(unix.DeleteModule("nucleus_probe_none", unix.O_NONBLOCK))
	case "reboot": // an invalid command: at most EINVAL
		return errno(sys(unix.SYS_REBOOT, unix.LINUX_REBOOT_MAGIC1, unix.LINUX_REBOOT_MAGIC2, 0x12345678, 0))
	case "swapon":
		return errno(sys(unix.SYS_SWAPON, ptr("/dev/null"), 0))
	case "syslog": // SYSLOG_ACTION_SIZE_BUFFER: read-only
		_, err := unix.Klogctl(10, nil)
		return errno(err)
	case "settimeofday": // (NULL, NULL): changes nothing even when allowed
		return errno(sys(unix.SYS_SETTIMEOFDAY, 0, 0))
	case "iopl":
		return errno(sys(unix.SYS_IOPL, 0))
	case "acct":
		return errno(sys(unix.SYS_ACCT, ptr("/nonexistent")))
	case "mknod": // mknod,PATH: a /dev/null-like character device
		return errno(unix.Mknod(arg(0), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	// The terminal.
	case "tiocsti":
		c := byte('x')
		return errno(raw(unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))))
	case "tioclinux":
		c := byte(6) // TIOCL_GETSHIFTSTATE: harmless
		return errno(raw(unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCLINUX, uintptr(unsafe.Pointer(&c)))))
	case "isatty":
		_, err := unix.IoctlGetTermios(0, unix.TCGETS)
		return errno(err)
	// Sockets.
	case "raw_socket":
		return errno(socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW))
	case "raw6_socket":
		return errno(socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_RAW))
	case "packet_socket":
		return errno(socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL))))
	case "vsock":
		return errno(socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0))
	// Files.
	case "write": // write,PATH,CONTENT: no O_CREAT, no O_TRUNC (proc/sys files)
		fd, err := unix.Open(arg(0), unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return errno(err)
		}
		defer unix.Close(fd)
		_, err = unix.Write(fd, []byte(arg(1)))
		return errno(err)
	case "create": // create,PATH
		return errno(os.WriteFile(arg(0), []byte("probe\n"), 0o644))
	case "read": // read,PATH: "ok:N" with the length read
		b, err := os.ReadFile(arg(0))
		if err != nil {
			return errno(err)
		}
		return fmt.Sprintf("ok:%d", len(b))
	case "link": // link,OLD,NEW
		return errno(os.Link(arg(0), arg(1)))
	case "copy_setuid": // copy_setuid,SRC,DST: copy and chmod 4755 (and 2755)
		b, err := os.ReadFile(arg(0))
		if err != nil {
			return "read:" + errno(err)
		}
		if err := os.WriteFile(arg(1), b, 0o755); err != nil {
			return "write:" + errno(err)
		}
		return errno(unix.Chmod(arg(1), 0o6755))
	case "setcap": // setcap,PATH: a v2 file capability granting CAP_SETUID
		v := make([]byte, 20)
		binary.LittleEndian.PutUint32(v[0:], 0x02000000|1) // VFS_CAP_REVISION_2 | effective
		binary.LittleEndian.PutUint32(v[4:], 1<<unix.CAP_SETUID)
		return errno(unix.Setxattr(arg(0), "security.capability", v, 0))
	case "statfs_size": // statfs_size,PATH: total bytes
		var st unix.Statfs_t
		if err := unix.Statfs(arg(0), &st); err != nil {
			return errno(err)
		}
		return strconv.FormatUint(st.Blocks*uint64(st.Bsize), 10)
	// Network (needs CAP_NET_ADMIN/CAP_NET_RAW for the forging ones).
	case "arp_entry": // arp_entry,IP: the MAC this namespace has for IP
		b, err := os.ReadFile("/proc/net/arp")
		if err != nil {
			return errno(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 4 && f[0] == arg(0) {
				return f[3]
			}
		}
		return "none"
	case "info": // info,DEV: "ADDR/LEN MAC GATEWAY"
		return info(arg(0))
	case "udp": // udp,HOST:PORT,PAYLOAD[,SRC]
		return errno(udpSend(arg(0), arg(2), arg(1)))
	case "tcp": // tcp,HOST:PORT[,SRC]
		return errno(tcpConnect(arg(0), arg(1)))
	case "raw_udp": // raw_udp,SRC,DST,PORT,PAYLOAD
		return errno(rawUDP(arg(0), arg(1), num(2), arg(3)))
	case "packet_udp": // packet_udp,DEV,SRCMAC,SRC,DST,PORT,PAYLOAD
		return errno(packetUDP(arg(0), arg(1), arg(2), arg(3), num(4), arg(5)))
	case "arp_claim": // arp_claim,DEV,IP[,MAC]
		return errno(arpClaim(arg(0), arg(1), arg(2)))
	case "addr_add": // addr_add,DEV,CIDR
		return errno(addrAdd(arg(0), arg(1)))
	case "set_mac": // set_mac,DEV,MAC
		return errno(setMAC(arg(0), arg(1)))
	case "exec": // exec,ARGV...: "ok" or "exit N: output"
		out, err := exec.Command(a[0], a[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("%s: %s", errno(err), strings.TrimSpace(string(out)))
		}
		return "ok"
	case "dns": // dns,SERVER,NAME[,tcp]
		netw := "udp"
		if arg(2) != "" {
			netw = arg(2)
		}
		return dnsQuery(arg(0), netw, question(arg(1), mdns.TypeA))
	case "dns_txt": // dns_txt,SERVER,NAME
		return dnsQuery(arg(0), "udp", question(arg(1), mdns.TypeTXT))
	case "dns_2q": // dns_2q,SERVER,NAME1,NAME2: two questions in one message
		m := question(arg(1), mdns.TypeA)
		m.Question = append(m.Question, mdns.Question{Name: mdns.Fqdn(arg(2)), Qtype: mdns.TypeA, Qclass: mdns.ClassINET})
		return dnsQuery(arg(0), "udp", m)
	case "dns_smuggle": // dns_smuggle,SERVER,NAME,SECRET: an allowed name carrying SECRET in other sections
		m := question(arg(1), mdns.TypeA)
		m.Extra = append(m.Extra, &mdns.TXT{Hdr: mdns.RR_Header{Name: mdns.Fqdn(arg(2) + ".x"), Rrtype: mdns.TypeTXT, Class: mdns.ClassINET}, Txt: []string{arg(2)}})
		opt := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
		opt.SetUDPSize(1232)
		opt.Option = append(opt.Option, &mdns.EDNS0_LOCAL{Code: 65001, Data: []byte(arg(2))})
		m.Extra = append(m.Extra, opt)
		m.Ns = append(m.Ns, &mdns.TXT{Hdr: mdns.RR_Header{Name: mdns.Fqdn(arg(1)), Rrtype: mdns.TypeTXT, Class: mdns.ClassINET}, Txt: []string{arg(2)}})
		return dnsQuery(arg(0), "udp", m)
	case "sleep":
		d, _ := time.ParseDuration(arg(0))
		time.Sleep(d)
		return "ok"
	}
	return "unknown attempt " + kind
}

func main() {
	// Inherited descriptors, before the probe opens any of its own.
	var fds []string
	for fd := 0; fd < 1024; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds = append(fds, strconv.Itoa(fd))
		}
	}
	if len(os.Args) > 1 && os.Args[1] == "noop" {
		return
	}
	out := map[string]string{"fds": strings.Join(fds, ",")}
	for _, a := range os.Args[1:] {
		label, spec, ok := strings.Cut(a, "=")
		if !ok {
			spec = a
		}
		f := strings.Split(spec, ",")
		if !ok {
			label = f[0]
		}
		out[label] = attempt(f[0], f[1:])
	}
	if siblingProc != nil {
		siblingProc.Kill()
		siblingProc.Wait()
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
