package sbinit

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lastCap is the highest capability the kernel knows.
func lastCap() int {
	b, err := readSmall("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 40
	}
	return n
}

// readSmall reads a small /proc file with plain syscalls: os.ReadFile
// registers the fd with Go's poller (its first use in the init also sets
// the poller up), five syscalls more for one read.
func readSmall(p string) ([]byte, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 64)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: p, Err: err}
	}
	return buf[:n], nil
}

// dropPrivileges switches the calling OS thread (only it: raw syscalls, the
// thread is locked) to id and leaves exactly keep in the bounding, permitted,
// effective, inheritable and ambient sets. Processes forked from this thread
// inherit the result. last is the kernel's highest capability.
func dropPrivileges(id identity, keep []int, last int) error {
	keepSet := map[int]bool{}
	for _, c := range keep {
		keepSet[c] = true
	}
	// Bounding set first: dropping needs CAP_SETPCAP, gone after capset.
	for c := 0; c <= last; c++ {
		if keepSet[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if len(keep) > 0 && id.UID != 0 {
		// Keep permitted caps across the uid change, for the ambient set below.
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set keepcaps: %w", err)
		}
	}
	if err := setIDs(id); err != nil {
		return err
	}
	var lo, hi uint32
	for c := range keepSet {
		if c < 32 {
			lo |= 1 << uint(c)
		} else {
			hi |= 1 << uint(c-32)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{{Effective: lo, Permitted: lo, Inheritable: lo}, {Effective: hi, Permitted: hi, Inheritable: hi}}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if id.UID != 0 {
		// A non-root workload only keeps cap_add across exec through the ambient set.
		for c := range keepSet {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
				return fmt.Errorf("raise ambient capability %d: %w", c, err)
			}
		}
	}
	return nil
}

// setIDs changes groups, gid and uid of the calling thread only. Go's
// syscall.Setuid would change every thread of the init.
func setIDs(id identity) error {
	groups := id.Groups
	var gp uintptr
	if len(groups) > 0 {
		gp = uintptr(unsafePointer(&groups[0]))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), gp, 0); e != 0 && !(e == unix.EPERM && len(groups) <= 1) {
		return fmt.Errorf("set supplementary groups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(id.GID), uintptr(id.GID), uintptr(id.GID)); e != 0 {
		return fmt.Errorf("set gid %d: %w", id.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(id.UID), uintptr(id.UID), uintptr(id.UID)); e != 0 {
		return fmt.Errorf("set uid %d: %w", id.UID, e)
	}
	return nil
}
