// Package syscalltab knows the syscall names libseccomp knows, without
// linking libseccomp: spec validates the names of a seccomp profile with it,
// so that the nucleus binary needs no cgo (issue 15). The list is generated
// from libseccomp's own header (go generate); its test checks, with
// libseccomp itself, that it answers exactly as libseccomp does.
package syscalltab

//go:generate go run ./gen -o names.go /usr/include/seccomp-syscalls.h

import "sort"

// Known reports whether libseccomp (the version names.go was generated
// from) resolves a syscall of this name, on any architecture: as
// seccomp_syscall_resolve_name does, a name the native architecture lacks
// (socketcall on x86_64) is known too.
func Known(name string) bool {
	i := sort.SearchStrings(names[:], name)
	return i < len(names) && names[i] == name
}

// Names returns every known name, sorted.
func Names() []string { return append([]string(nil), names[:]...) }
