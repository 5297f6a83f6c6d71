package reconcile

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcStartTime returns the start time of process pid in clock ticks after
// boot (field 22 of /proc/PID/stat). A PID with the same number but another
// start time is a different process: that is how PID reuse is detected.
func ProcStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read start time of pid %d: %w", pid, err)
	}
	// comm (field 2) may hold spaces and parentheses: split after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no ')' after the command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	const starttime = 22 - 3 // fields after ')' start at field 3 (state)
	if len(f) <= starttime {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields, expected at least 22", pid, len(f)+2)
	}
	v, err := strconv.ParseUint(f[starttime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat start time %q: %w", pid, f[starttime], err)
	}
	return v, nil
}

// ProcAlive reports whether pid is still the process that started at start.
// A zombie is not alive: it has exited, and its parent may never reap it
// (a sandbox init orphaned by a killed supervisor belongs to PID 1 then).
func ProcAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	got, err := ProcStartTime(pid)
	return err == nil && got == start && !procZombie(pid)
}

// procZombie reports whether pid has exited but not been reaped (state Z
// or X, field 3 of /proc/PID/stat).
func procZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] == 'Z' || b[i+2] == 'X'
}

// BootID identifies the current boot; records from another boot are stale
// even when a PID and start time happen to match.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
