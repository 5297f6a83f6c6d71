// Package seccomp builds and installs the seccomp filters of nucleus sandboxes.
//
// A filter is compiled with libseccomp once (the default profile is compiled
// at most once per process and can be cached as raw BPF), and installed with
// the raw seccomp(2) syscall, so the sandbox init never runs libseccomp: it
// receives the BPF bytes from its parent and installs them just before exec.
package seccomp

import (
	"fmt"
)

// Display modes of a Program (the "seccomp" column of `nucleus ps`).
const (
	ModeDefault    = "default"
	ModeUnconfined = "unconfined"
	modeProfile    = "profile"
)

// ProfileMode is the display mode of an OCI profile loaded from a file named name.
func ProfileMode(name string) string { return modeProfile + ":" + name }

// sockFilterSize is sizeof(struct sock_filter): u16 code, u8 jt, u8 jf, u32 k.
const sockFilterSize = 8

// maxInstructions is the kernel's BPF_MAXINSNS for one seccomp filter.
const maxInstructions = 4096

// Program is a compiled seccomp filter, ready to install. A nil BPF means
// "unconfined": Install does nothing but set no_new_privs.
type Program struct {
	mode string
	bpf  []byte
}

// Mode says what the filter is, for display: "default", "unconfined" or
// "profile:<name>".
func (p *Program) Mode() string { return p.mode }

// WithMode returns a copy of p displayed as mode (e.g. after LoadBPF, or
// ProfileMode(name) for a profile file). The BPF is shared, not copied.
func (p *Program) WithMode(mode string) *Program { return &Program{mode: mode, bpf: p.bpf} }

// Unconfined returns the program of `seccomp: unconfined`.
func Unconfined() *Program { return &Program{mode: ModeUnconfined} }

// BPF returns the raw filter: an array of struct sock_filter in host byte
// order. It is nil for an unconfined program. The slice must not be modified.
func (p *Program) BPF() []byte { return p.bpf }

// Instructions is the number of BPF instructions of the filter.
func (p *Program) Instructions() int { return len(p.bpf) / sockFilterSize }

// LoadBPF wraps raw BPF (as returned by BPF, e.g. read back from a cache file
// or received by the sandbox init) in a Program. Empty input means unconfined.
func LoadBPF(bpf []byte) (*Program, error) {
	if len(bpf) == 0 {
		return Unconfined(), nil
	}
	if len(bpf)%sockFilterSize != 0 {
		return nil, fmt.Errorf("load seccomp BPF: %d bytes is not a whole number of %d-byte instructions", len(bpf), sockFilterSize)
	}
	if n := len(bpf) / sockFilterSize; n > maxInstructions {
		return nil, fmt.Errorf("load seccomp BPF: %d instructions, the kernel accepts at most %d", n, maxInstructions)
	}
	return &Program{mode: modeProfile, bpf: append([]byte(nil), bpf...)}, nil
}
