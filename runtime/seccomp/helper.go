package seccomp

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"nucleus/internal/helperbin"
	"nucleus/internal/syscalltab"
)

// HelperName is the filter compiler, found next to the nucleus binary: it
// links libseccomp (cgo), which nucleus itself does not, so that no nucleus
// command pays for cgo and static glibc's start (issue 15). It runs only
// when the BPF cache misses (runtime's seccompProgram).
const HelperName = "nucleus-seccomp"

// HelperEnv names the helper explicitly (tests, packaging).
const HelperEnv = "NUCLEUS_SECCOMP"

// Request is what nucleus asks the helper to compile: the default profile
// for the capabilities Caps (Default), or the OCI profile Profile.
type Request struct {
	Default bool     `json:",omitempty"`
	Caps    []string `json:",omitempty"`
	Profile []byte   `json:",omitempty"`
}

// Serve is nucleus-seccomp's main: one Request as JSON from r, compile's
// BPF or error as JSON on w. It returns the exit status.
func Serve(r io.Reader, w io.Writer, compile func(Request) ([]byte, error)) int {
	return helperbin.Serve(HelperName, r, w, compile)
}

// compileWithHelper runs the helper on req and returns the BPF it compiled.
func compileWithHelper(req Request) ([]byte, error) {
	bin, err := helperbin.Find(HelperName, HelperEnv, "seccomp filters are compiled")
	if err != nil {
		return nil, err
	}
	bpf, err := helperbin.Call[Request, []byte](context.Background(), bin, req)
	if err != nil {
		return nil, err
	}
	if len(bpf) == 0 {
		return nil, fmt.Errorf("seccomp: %s answered neither a filter nor an error", bin)
	}
	return bpf, nil
}

// defaultCache holds the default profile per capability set, so the
// helper runs at most once per process and set however many sandboxes
// start.
var defaultCache sync.Map // key string -> *defaultEntry

type defaultEntry struct {
	once sync.Once
	prog *Program
	err  error
}

// DefaultFor returns the default profile for a sandbox whose cap_add lists
// caps (capabilities such as CAP_SYS_PTRACE or CAP_SYS_ADMIN re-allow the
// syscalls they are about), compiled by the helper. The result is shared
// and must not be modified.
func DefaultFor(caps []string) (*Program, error) {
	norm := make([]string, 0, len(caps))
	for _, c := range caps {
		c = strings.ToUpper(c)
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		norm = append(norm, c)
	}
	sort.Strings(norm)
	norm = slices.Compact(norm)
	v, _ := defaultCache.LoadOrStore(strings.Join(norm, ","), &defaultEntry{})
	e := v.(*defaultEntry)
	e.once.Do(func() {
		// The helper's errors say what failed ("compile default seccomp
		// profile: ..."), or that the helper is missing.
		bpf, err := compileWithHelper(Request{Default: true, Caps: norm})
		if err == nil {
			e.prog, err = LoadBPF(bpf)
		}
		if err != nil {
			e.err = err
			return
		}
		e.prog = e.prog.WithMode(ModeDefault)
	})
	return e.prog, e.err
}

// FromOCIProfile compiles an OCI-format seccomp profile with the helper
// (runtime/seccomp/compiler.FromOCIProfile says what it accepts).
func FromOCIProfile(data []byte) (*Program, error) {
	bpf, err := compileWithHelper(Request{Profile: data})
	if err != nil {
		return nil, err
	}
	return LoadBPF(bpf)
}

// KnownSyscall reports whether libseccomp knows a syscall of this name (on
// any architecture), i.e. whether a profile may name it.
func KnownSyscall(name string) bool { return syscalltab.Known(name) }
