package compiler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"nucleus/runtime/seccomp"
)

// ociProfile is the seccomp section of the OCI runtime spec, as a standalone
// JSON file, plus the Docker extensions (archMap, includes/excludes) so
// Docker's and Podman's profile files load too.
type ociProfile struct {
	DefaultAction   string       `json:"defaultAction"`
	DefaultErrnoRet *uint        `json:"defaultErrnoRet"`
	Architectures   []string     `json:"architectures"`
	ArchMap         []ociArchMap `json:"archMap"`
	Syscalls        []ociSyscall `json:"syscalls"`
	Flags           []string     `json:"flags"` // accepted, not used: nucleus always installs with TSYNC
	ListenerPath    string       `json:"listenerPath"`
}

type ociArchMap struct {
	Arch    string   `json:"architecture"`
	SubArch []string `json:"subArchitectures"`
}

type ociSyscall struct {
	Names    []string   `json:"names"`
	Name     string     `json:"name"` // old single-name form
	Action   string     `json:"action"`
	ErrnoRet *uint      `json:"errnoRet"`
	Args     []ociArg   `json:"args"`
	Includes *ociFilter `json:"includes"`
	Excludes *ociFilter `json:"excludes"`
}

type ociArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo"`
	Op       string `json:"op"`
}

// ociFilter is Docker's per-entry condition: capabilities and architectures.
type ociFilter struct {
	Caps   []string `json:"caps"`
	Arches []string `json:"arches"`
}

var ociOps = map[string]libseccomp.ScmpCompareOp{
	"SCMP_CMP_NE":        libseccomp.CompareNotEqual,
	"SCMP_CMP_LT":        libseccomp.CompareLess,
	"SCMP_CMP_LE":        libseccomp.CompareLessOrEqual,
	"SCMP_CMP_EQ":        libseccomp.CompareEqual,
	"SCMP_CMP_GE":        libseccomp.CompareGreaterEqual,
	"SCMP_CMP_GT":        libseccomp.CompareGreater,
	"SCMP_CMP_MASKED_EQ": libseccomp.CompareMaskedEqual,
}

// FromOCIProfile compiles an OCI-format seccomp profile (JSON with
// defaultAction, architectures, syscalls[{names, action, args, errnoRet}]).
// Every syscall name must be known to libseccomp; SCMP_ACT_NOTIFY and
// SCMP_ACT_TRACE are not supported (nucleus runs no tracer or listener).
// Entries with Docker's "includes" apply only when they name no capability
// (the profile gets none) and, if they name architectures, x86_64.
func FromOCIProfile(data []byte) (*seccomp.Program, error) {
	p, err := parseOCIProfile(data)
	if err != nil {
		return nil, err
	}
	bpf, err := compile(p)
	if err != nil {
		return nil, fmt.Errorf("compile seccomp profile: %w", err)
	}
	return seccomp.LoadBPF(bpf)
}

// LoadProfileFile reads and compiles the OCI profile at path; its display
// mode is "profile:<file name>".
func LoadProfileFile(path string) (*seccomp.Program, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read seccomp profile: %w", err)
	}
	prog, err := FromOCIProfile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return prog.WithMode(seccomp.ProfileMode(filepath.Base(path))), nil
}

func parseOCIProfile(data []byte) (*profile, error) {
	var op ociProfile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&op); err != nil {
		return nil, fmt.Errorf("parse seccomp profile JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse seccomp profile JSON: trailing data after the profile object")
	}
	if op.DefaultAction == "" {
		return nil, fmt.Errorf("seccomp profile: defaultAction is required")
	}
	def, err := ociAction(op.DefaultAction, op.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: defaultAction: %w", err)
	}
	p := &profile{defaultAction: def, badArch: errnoAction(unix.ENOSYS)}
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: native architecture: %w", err)
	}
	seen := map[libseccomp.ScmpArch]bool{native: true}
	addArch := func(name string) error {
		a, err := ociArch(name)
		if err != nil {
			return err
		}
		if !seen[a] {
			seen[a] = true
			p.arches = append(p.arches, a)
		}
		return nil
	}
	for _, name := range op.Architectures {
		if err := addArch(name); err != nil {
			return nil, fmt.Errorf("seccomp profile: architectures: %w", err)
		}
	}
	for _, m := range op.ArchMap {
		if a, err := ociArch(m.Arch); err != nil || a != native {
			continue // sub-architectures only of the architecture we run on
		}
		for _, name := range append([]string{m.Arch}, m.SubArch...) {
			if err := addArch(name); err != nil {
				return nil, fmt.Errorf("seccomp profile: archMap: %w", err)
			}
		}
	}
	for i, s := range op.Syscalls {
		where := fmt.Sprintf("seccomp profile: syscalls[%d]", i)
		names := s.Names
		if s.Name != "" {
			names = append(names, s.Name)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: names is empty", where)
		}
		if !ociApplies(s, native) {
			continue // e.g. another architecture's syscalls, unknown here
		}
		for _, n := range names {
			if !knownSyscall(n) {
				return nil, fmt.Errorf("%s: unknown syscall %q", where, n)
			}
		}
		act, err := ociAction(s.Action, s.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", where, strings.Join(names, ","), err)
		}
		conds := make([]cond, 0, len(s.Args))
		sameIndex := false
		for j, a := range s.Args {
			o, ok := ociOps[a.Op]
			if !ok {
				return nil, fmt.Errorf("%s: args[%d]: unknown op %q", where, j, a.Op)
			}
			if a.Index > 5 {
				return nil, fmt.Errorf("%s: args[%d]: index %d out of range 0-5", where, j, a.Index)
			}
			for _, c := range conds {
				if c.arg == a.Index {
					sameIndex = true
				}
			}
			conds = append(conds, cond{arg: a.Index, op: o, v1: a.Value, v2: a.ValueTwo})
		}
		if sameIndex {
			// libseccomp cannot test one argument twice in a rule; like runc,
			// read such an entry as one rule per comparison (any may match).
			for _, c := range conds {
				p.rules = append(p.rules, rule{names: names, action: act, conds: []cond{c}})
			}
			continue
		}
		p.rules = append(p.rules, rule{names: names, action: act, conds: conds})
	}
	return p, nil
}

// ociApplies evaluates Docker's includes/excludes for a sandbox without
// capabilities on the native architecture.
func ociApplies(s ociSyscall, native libseccomp.ScmpArch) bool {
	onNative := func(arches []string) bool {
		for _, n := range arches {
			if a, err := ociArch(n); err == nil && a == native {
				return true
			}
		}
		return false
	}
	if in := s.Includes; in != nil {
		if len(in.Caps) > 0 || (len(in.Arches) > 0 && !onNative(in.Arches)) {
			return false
		}
	}
	if ex := s.Excludes; ex != nil && len(ex.Arches) > 0 && onNative(ex.Arches) {
		return false
	}
	return true
}

// ociArch maps "SCMP_ARCH_X86_64" (or a Docker short name like "amd64") to libseccomp.
func ociArch(name string) (libseccomp.ScmpArch, error) {
	n := strings.ToLower(strings.TrimPrefix(name, "SCMP_ARCH_"))
	switch n {
	case "x86_64":
		n = "amd64"
	case "aarch64":
		n = "arm64"
	}
	a, err := libseccomp.GetArchFromString(n)
	if err != nil {
		return 0, fmt.Errorf("unknown architecture %q", name)
	}
	return a, nil
}

func ociAction(name string, errnoRet *uint) (libseccomp.ScmpAction, error) {
	switch name {
	case "SCMP_ACT_ALLOW":
		return libseccomp.ActAllow, nil
	case "SCMP_ACT_ERRNO":
		e := uint(unix.EPERM)
		if errnoRet != nil {
			e = *errnoRet
		}
		if e > 4095 {
			return 0, fmt.Errorf("errnoRet %d out of range", e)
		}
		return libseccomp.ActErrno.SetReturnCode(int16(e)), nil
	case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD":
		return libseccomp.ActKillThread, nil
	case "SCMP_ACT_KILL_PROCESS":
		return libseccomp.ActKillProcess, nil
	case "SCMP_ACT_TRAP":
		return libseccomp.ActTrap, nil
	case "SCMP_ACT_LOG":
		return libseccomp.ActLog, nil
	case "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY":
		return 0, fmt.Errorf("action %s is not supported (nucleus attaches no tracer or notification listener)", name)
	}
	return 0, fmt.Errorf("unknown action %q", name)
}
