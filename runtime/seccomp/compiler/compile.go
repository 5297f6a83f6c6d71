package compiler

import (
	"fmt"
	"io"
	"os"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"nucleus/runtime/seccomp"
)

// sockFilterSize is sizeof(struct sock_filter); maxInstructions is the
// kernel's BPF_MAXINSNS for one filter.
const (
	sockFilterSize  = 8
	maxInstructions = 4096
)

// profile is the libseccomp-independent description both the built-in
// default and OCI profiles are translated into before compilation.
type profile struct {
	defaultAction libseccomp.ScmpAction
	// arches are added besides the native one. Syscalls from any other
	// architecture (i386 via int 0x80, x32) get badArch.
	arches  []libseccomp.ScmpArch
	badArch libseccomp.ScmpAction
	rules   []rule
	// skipUnknown ignores syscall names this libseccomp does not know
	// (the built-in list names syscalls newer than libseccomp 2.5); they
	// then get the default action. OCI profiles reject unknown names.
	skipUnknown bool
}

// rule applies action to the named syscalls when all conds hold.
type rule struct {
	names  []string
	action libseccomp.ScmpAction
	conds  []cond
}

// cond compares syscall argument arg: op(arg, v1) or, for masked-equal,
// (arg & v1) == v2.
type cond struct {
	arg    uint
	op     libseccomp.ScmpCompareOp
	v1, v2 uint64
}

func errnoAction(errno unix.Errno) libseccomp.ScmpAction {
	return libseccomp.ActErrno.SetReturnCode(int16(errno))
}

// compile turns p into raw BPF with libseccomp.
func compile(p *profile) ([]byte, error) {
	f, err := libseccomp.NewFilter(p.defaultAction)
	if err != nil {
		return nil, fmt.Errorf("create seccomp filter: %w", err)
	}
	defer f.Release()
	// nucleus sets no_new_privs itself (Install); keep the exported BPF pure.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("seccomp filter: clear nnp attribute: %w", err)
	}
	if err := f.SetBadArchAction(p.badArch); err != nil {
		return nil, fmt.Errorf("seccomp filter: set bad-architecture action: %w", err)
	}
	// A binary tree of syscall numbers keeps the per-syscall cost low for a
	// 300-entry allowlist. Older libseccomp lacks it; linear is still correct.
	_ = f.SetOptimize(2)
	for _, a := range p.arches {
		if err := f.AddArch(a); err != nil {
			return nil, fmt.Errorf("seccomp filter: add architecture %s: %w", a, err)
		}
	}
	for _, r := range p.rules {
		if err := addRule(f, r, p.skipUnknown, len(p.arches) == 0); err != nil {
			return nil, err
		}
	}
	return exportBPF(f)
}

// nativeOnly: the filter covers only the native architecture, so syscalls
// this libseccomp cannot name may be given by number (newerSyscalls).
func addRule(f *libseccomp.ScmpFilter, r rule, skipUnknown, nativeOnly bool) error {
	conds := make([]libseccomp.ScmpCondition, 0, len(r.conds))
	for _, c := range r.conds {
		var sc libseccomp.ScmpCondition
		var err error
		if c.op == libseccomp.CompareMaskedEqual {
			sc, err = libseccomp.MakeCondition(c.arg, c.op, c.v1, c.v2)
		} else {
			sc, err = libseccomp.MakeCondition(c.arg, c.op, c.v1)
		}
		if err != nil {
			return fmt.Errorf("seccomp rule for %v: argument %d: %w", r.names, c.arg, err)
		}
		conds = append(conds, sc)
	}
	for _, name := range r.names {
		nr, err := libseccomp.GetSyscallFromName(name)
		if n, ok := newerSyscalls[name]; err != nil && ok && nativeOnly {
			nr, err = libseccomp.ScmpSyscall(n), nil
		}
		if err != nil {
			if skipUnknown {
				continue
			}
			return fmt.Errorf("seccomp rule: unknown syscall %q", name)
		}
		if len(conds) == 0 {
			err = f.AddRule(nr, r.action)
		} else {
			err = f.AddRuleConditional(nr, r.action, conds)
		}
		if err != nil {
			return fmt.Errorf("seccomp rule for %s (%s): %w", name, r.action, err)
		}
	}
	return nil
}

// exportBPF writes the filter's BPF into a memfd and reads it back:
// libseccomp 2.5 can only export to a file descriptor.
func exportBPF(f *libseccomp.ScmpFilter) ([]byte, error) {
	fd, err := unix.MemfdCreate("nucleus-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("export seccomp BPF: memfd: %w", err)
	}
	file := os.NewFile(uintptr(fd), "nucleus-seccomp")
	defer file.Close()
	if err := f.ExportBPF(file); err != nil {
		return nil, fmt.Errorf("export seccomp BPF: %w", err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("export seccomp BPF: %w", err)
	}
	bpf, err := io.ReadAll(file)
	if err != nil {
		return nil, fmt.Errorf("export seccomp BPF: read back: %w", err)
	}
	if len(bpf) == 0 || len(bpf)%sockFilterSize != 0 {
		return nil, fmt.Errorf("export seccomp BPF: got %d bytes, want a non-empty multiple of %d", len(bpf), sockFilterSize)
	}
	if n := len(bpf) / sockFilterSize; n > maxInstructions {
		return nil, fmt.Errorf("seccomp filter has %d instructions, the kernel accepts at most %d", n, maxInstructions)
	}
	return bpf, nil
}

// knownSyscall reports whether libseccomp knows a syscall of this name (on
// any architecture), i.e. whether a profile may name it.
func knownSyscall(name string) bool {
	_, err := libseccomp.GetSyscallFromName(name)
	return err == nil
}

// syscallNumber is the native number of a syscall (negative: a pseudo
// number for a syscall the native architecture lacks).
func syscallNumber(name string) (int, error) {
	nr, err := libseccomp.GetSyscallFromName(name)
	if n, ok := newerSyscalls[name]; err != nil && ok {
		return n, nil
	}
	return int(nr), err
}

// Compile is nucleus-seccomp's work (seccomp.Serve): the BPF of the
// default profile or of an OCI profile, as req asks.
func Compile(req seccomp.Request) ([]byte, error) {
	var p *seccomp.Program
	var err error
	if req.Default {
		p, err = DefaultFor(req.Caps)
	} else {
		p, err = FromOCIProfile(req.Profile)
	}
	if err != nil {
		return nil, err
	}
	return p.BPF(), nil
}
