// Package procstat reads /proc/PID/stat: the one parser of it, for the
// fields nucleus needs to tell a process from a later one with the same
// PID (start time) and a live process from a zombie (state); and single
// fields of /proc/PID/status (ids, NSpid, Seccomp).
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Stat holds the fields of /proc/PID/stat that nucleus reads.
type Stat struct {
	State byte // field 3: R, S, D, Z, X ...
	PPID  int  // field 4
	// Flags is field 9, the kernel's PF_* flags of the task.
	Flags uint64
	// StartTime is field 22, in clock ticks after boot: a PID with the same
	// number but another start time is another process (PID reuse).
	StartTime uint64
	// UTime and STime are fields 14 and 15: CPU time in user and kernel
	// mode, in clock ticks (nucleus top).
	UTime, STime uint64
	// CUTime and CSTime are fields 16 and 17: the same of its reaped
	// children; Threads is field 20, RSS field 24 (pages): usage of a
	// sandbox without a cgroup (nucleus stats).
	CUTime, CSTime, Threads, RSS uint64
}

// Exited reports whether the process has exited and waits to be reaped
// (zombie, or dead).
func (s Stat) Exited() bool { return s.State == 'Z' || s.State == 'X' }

// pfExiting is PF_EXITING: the task is in do_exit. A SIGKILLed process
// keeps its files (and so its flocks and listening sockets) until do_exit
// has released them, which can take seconds (inotify teardown waits for an
// SRCU grace period), while it answers nothing.
const pfExiting = 0x4

// Exiting reports whether the process has begun to exit (or has exited).
func (s Stat) Exiting() bool { return s.Exited() || s.Flags&pfExiting != 0 }

// Read reads and parses /proc/PID/stat.
func Read(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	s, err := Parse(b)
	if err != nil {
		return Stat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return s, nil
}

// Parse parses the content of a /proc/PID/stat file.
func Parse(b []byte) (Stat, error) {
	// comm (field 2) may hold spaces and parentheses: split after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("no ')' after the command name")
	}
	f := strings.Fields(string(b[i+1:]))
	const state, ppid, flags, starttime = 3 - 3, 4 - 3, 9 - 3, 22 - 3 // fields after ')' start at field 3
	if len(f) <= starttime {
		return Stat{}, fmt.Errorf("%d fields, expected at least 22", len(f)+2)
	}
	if len(f[state]) != 1 {
		return Stat{}, fmt.Errorf("state %q, expected one letter", f[state])
	}
	pp, err := strconv.Atoi(f[ppid])
	if err != nil {
		return Stat{}, fmt.Errorf("ppid %q: %w", f[ppid], err)
	}
	st, err := strconv.ParseUint(f[starttime], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("start time %q: %w", f[starttime], err)
	}
	fl, err := strconv.ParseUint(f[flags], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("flags %q: %w", f[flags], err)
	}
	num := func(field int) uint64 {
		if field-3 >= len(f) {
			return 0
		}
		n, _ := strconv.ParseUint(f[field-3], 10, 64)
		return n
	}
	return Stat{State: f[state][0], PPID: pp, Flags: fl, StartTime: st, UTime: num(14), STime: num(15),
		CUTime: num(16), CSTime: num(17), Threads: num(20), RSS: num(24)}, nil
}

// StartTime returns the start time of process pid (field 22).
func StartTime(pid int) (uint64, error) {
	s, err := Read(pid)
	return s.StartTime, err
}

// Alive reports whether pid is still the process that started at start
// and has not exited. A zombie is not alive: its parent may never reap it
// (an orphan belongs to PID 1 then, which on some hosts reaps late).
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	s, err := Read(pid)
	return err == nil && s.StartTime == start && !s.Exited()
}

// Running reports whether pid exists and has not exited, whoever it is.
func Running(pid int) bool {
	if pid <= 0 {
		return false
	}
	s, err := Read(pid)
	return err == nil && !s.Exited()
}

// StatusPath is the status file of pid.
func StatusPath(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/status" }

// StatusField returns the value of field key ("Seccomp", "NSpid") of a
// status file such as StatusPath(pid) or /proc/self/task/TID/status,
// without the spaces around it. A file without the field is an error.
func StatusField(path, key string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s has no field %s", path, key)
}

// Descendants lists the live processes below pid in the process tree (its
// children, theirs, ...), from one scan of /proc. Below a sandbox's init,
// PID 1 and subreaper of its PID namespace, that is every process of the
// sandbox: orphans are reparented to it.
func Descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := Read(p); err == nil && !st.Exited() {
			children[st.PPID] = append(children[st.PPID], p)
		}
	}
	var out []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out
}
