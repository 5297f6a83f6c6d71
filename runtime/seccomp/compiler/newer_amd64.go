//go:build amd64

package compiler

import "golang.org/x/sys/unix"

// newerSyscalls are native numbers of syscalls the libseccomp nucleus builds
// against (2.5.4) cannot name. Without them a rule naming one would be
// skipped and the syscall would get the default action (ENOSYS). They are
// used only in filters for the native architecture alone.
var newerSyscalls = map[string]int{
	"uretprobe":     unix.SYS_URETPROBE,
	"mseal":         unix.SYS_MSEAL,
	"setxattrat":    unix.SYS_SETXATTRAT,
	"getxattrat":    unix.SYS_GETXATTRAT,
	"listxattrat":   unix.SYS_LISTXATTRAT,
	"removexattrat": unix.SYS_REMOVEXATTRAT,
}
