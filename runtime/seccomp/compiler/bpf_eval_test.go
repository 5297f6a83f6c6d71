package compiler

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// evalBPF runs a classic BPF seccomp filter on one seccomp_data, like the
// kernel does, so architecture handling can be tested without executing
// i386 or x32 code. It knows the instructions libseccomp emits.
func evalBPF(t *testing.T, bpf []byte, nr, arch uint32, args [6]uint64) uint32 {
	t.Helper()
	var data [64]byte
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	var a, x uint32
	var mem [16]uint32
	n := len(bpf) / 8
	for pc := 0; pc < n; pc++ {
		ins := bpf[pc*8:]
		code := binary.LittleEndian.Uint16(ins)
		jt, jf := int(ins[2]), int(ins[3])
		k := binary.LittleEndian.Uint32(ins[4:])
		jump := func(cond bool) {
			if cond {
				pc += jt
			} else {
				pc += jf
			}
		}
		switch code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			a = binary.LittleEndian.Uint32(data[k:])
		case unix.BPF_LD | unix.BPF_MEM:
			a = mem[k]
		case unix.BPF_LDX | unix.BPF_MEM:
			x = mem[k]
		case unix.BPF_ST:
			mem[k] = a
		case unix.BPF_STX:
			mem[k] = x
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= k
		case unix.BPF_MISC | unix.BPF_TAX:
			x = a
		case unix.BPF_MISC | unix.BPF_TXA:
			a = x
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(k)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			jump(a == k)
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			jump(a > k)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			jump(a >= k)
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			jump(a&k != 0)
		case unix.BPF_RET | unix.BPF_K:
			return k
		default:
			t.Fatalf("instruction %d: opcode %#x not supported by the test interpreter", pc, code)
		}
	}
	t.Fatal("filter ran off its end")
	return 0
}

const (
	auditArchX86_64 = 0xc000003e
	auditArchI386   = 0x40000003
	x32SyscallBit   = 0x40000000
	retAllow        = unix.SECCOMP_RET_ALLOW
)

func retErrno(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }

func TestFilterDecisions(t *testing.T) {
	prog, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	bpf := prog.BPF()
	none := [6]uint64{}
	cases := []struct {
		name string
		nr   uint32
		arch uint32
		args [6]uint64
		want uint32
	}{
		{"read", unix.SYS_READ, auditArchX86_64, none, retAllow},
		{"mount", unix.SYS_MOUNT, auditArchX86_64, none, retErrno(unix.EPERM)},
		{"clone3", unix.SYS_CLONE3, auditArchX86_64, none, retErrno(unix.ENOSYS)},
		{"unknown number", 1000, auditArchX86_64, none, retErrno(unix.ENOSYS)},
		// Other ABIs on x86_64 hardware: refused whatever the syscall.
		{"i386 getpid", 20, auditArchI386, none, retErrno(unix.ENOSYS)},
		{"i386 read", 3, auditArchI386, none, retErrno(unix.ENOSYS)},
		{"x32 read", x32SyscallBit | unix.SYS_READ, auditArchX86_64, none, retErrno(unix.ENOSYS)},
		{"x32 getpid", x32SyscallBit | unix.SYS_GETPID, auditArchX86_64, none, retErrno(unix.ENOSYS)},
		// Argument filters see all 64 bits where the kernel does, and only
		// the low 32 where the kernel truncates.
		{"clone thread", unix.SYS_CLONE, auditArchX86_64, [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND}, retAllow},
		{"clone newuser", unix.SYS_CLONE, auditArchX86_64, [6]uint64{unix.CLONE_NEWUSER}, retErrno(unix.EPERM)},
		{"clone newns+high bits", unix.SYS_CLONE, auditArchX86_64, [6]uint64{1<<40 | unix.CLONE_NEWNS}, retErrno(unix.EPERM)},
		{"ioctl tcgets", unix.SYS_IOCTL, auditArchX86_64, [6]uint64{0, unix.TCGETS}, retAllow},
		{"ioctl tiocsti", unix.SYS_IOCTL, auditArchX86_64, [6]uint64{0, unix.TIOCSTI}, retErrno(unix.EPERM)},
		{"ioctl tiocsti+high bits", unix.SYS_IOCTL, auditArchX86_64, [6]uint64{0, 0xffffffff00000000 | unix.TIOCSTI}, retErrno(unix.EPERM)},
		{"socket inet", unix.SYS_SOCKET, auditArchX86_64, [6]uint64{unix.AF_INET}, retAllow},
		{"socket unix", unix.SYS_SOCKET, auditArchX86_64, [6]uint64{unix.AF_UNIX}, retAllow},
		{"socket vsock", unix.SYS_SOCKET, auditArchX86_64, [6]uint64{unix.AF_VSOCK}, retErrno(unix.EPERM)},
		{"socket vsock+high bits", unix.SYS_SOCKET, auditArchX86_64, [6]uint64{1<<32 | unix.AF_VSOCK}, retErrno(unix.EPERM)},
		// Newer than libseccomp 2.5.4, allowed by number (as Docker allows them).
		{"uretprobe", unix.SYS_URETPROBE, auditArchX86_64, none, retAllow},
		{"getxattrat", unix.SYS_GETXATTRAT, auditArchX86_64, none, retAllow},
		{"setxattrat", unix.SYS_SETXATTRAT, auditArchX86_64, none, retAllow},
		{"mseal", unix.SYS_MSEAL, auditArchX86_64, none, retAllow},
		{"personality query", unix.SYS_PERSONALITY, auditArchX86_64, [6]uint64{0xffffffff}, retAllow},
		{"personality read_implies_exec", unix.SYS_PERSONALITY, auditArchX86_64, [6]uint64{0x0400000}, retErrno(unix.ENOSYS)},
	}
	for _, c := range cases {
		if got := evalBPF(t, bpf, c.nr, c.arch, c.args); got != c.want {
			t.Errorf("%s: filter returns %#x, want %#x", c.name, got, c.want)
		}
	}
}

// Every allowlisted syscall is allowed and every denied one refused with
// EPERM, by number: catches a name that resolves to the wrong syscall or a
// rule libseccomp silently merged away.
func TestFilterCoversLists(t *testing.T) {
	prog, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range []struct {
		names []string
		want  uint32
	}{{allowedSyscalls, retAllow}, {deniedSyscalls, retErrno(unix.EPERM)}} {
		for _, name := range list.names {
			nr, ok := nativeNumber(name)
			if !ok {
				continue // newer than this libseccomp: gets the default
			}
			if got := evalBPF(t, prog.BPF(), nr, auditArchX86_64, [6]uint64{}); got != list.want {
				t.Errorf("%s (%d): filter returns %#x, want %#x", name, nr, got, list.want)
			}
		}
	}
}

func nativeNumber(name string) (uint32, bool) {
	n, err := syscallNumber(name)
	if err != nil || n < 0 {
		return 0, false
	}
	return uint32(n), true
}
