package runtime

// What nucleus pause, unpause, top and stats do to or read from a running
// sandbox, by its ID: through its cgroup and /proc, without adopting it
// (so they need no supervisor and leave it alone).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/runtime/cgroups"
)

// NoCgroupError is the error of what needs the cgroup of a sandbox made
// without one (cgroup manager none, e.g. an ordinary user on a v1 or
// hybrid host). Why is the manager's reason.
type NoCgroupError struct {
	Op, Why string
}

func (e *NoCgroupError) Error() string {
	return fmt.Sprintf("the sandbox has no cgroup (%s), so its limits are not enforced and %s; "+
		"a cgroup comes with nucleus run as root, or on a cgroup v2 host where systemd delegates one to the user "+
		"(user@UID.service; loginctl enable-linger USER)", e.Why, opNeeds[e.Op])
}

var opNeeds = map[string]string{
	"pause":   "pausing needs the cgroup freezer (SIGSTOP would be seen by the processes)",
	"unpause": "nothing was paused",
	"stats":   "its usage is read from /proc instead",
}

// sandboxCgroup loads sandbox id's cgroup; a sandbox whose record says it
// has none gives a *NoCgroupError for op.
func sandboxCgroup(root rootdir.Root, id, op string) (*cgroups.Cgroup, error) {
	if rec, err := ReadRecord(root, id); err == nil && rec.Cgroup == "" {
		why := rec.NotEnforcedWhy
		if why == "" {
			why = "cgroup manager none: " + cgroups.NoneReason()
		}
		return nil, &NoCgroupError{Op: op, Why: why}
	}
	return cgroups.Load(root, id)
}

// Pause freezes every process of sandbox id (the cgroup freezer: v1
// freezer.state, v2 cgroup.freeze) and returns once they are frozen.
func Pause(ctx context.Context, root rootdir.Root, id string) error {
	cg, err := sandboxCgroup(root, id, "pause")
	if err != nil {
		return err
	}
	return cg.Freeze(ctx)
}

// Unpause thaws a sandbox Pause froze.
func Unpause(root rootdir.Root, id string) error {
	cg, err := sandboxCgroup(root, id, "unpause")
	if err != nil {
		return err
	}
	return cg.Thaw()
}

// Paused reports whether sandbox id is frozen (never, without a cgroup).
func Paused(root rootdir.Root, id string) (bool, error) {
	cg, err := sandboxCgroup(root, id, "paused")
	var nc *NoCgroupError
	if errors.As(err, &nc) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return cg.Frozen()
}

// TopProcess is one process of a sandbox as nucleus top shows it.
type TopProcess struct {
	PID     int     `json:"pid"`      // inside the sandbox's PID namespace
	HostPID int     `json:"host_pid"` // on the host
	UID     int     `json:"uid"`      // inside the sandbox's user namespace
	User    string  `json:"user"`     // its name in the sandbox's /etc/passwd, else the number
	CPUSec  float64 `json:"cpu_seconds"`
	Cmd     string  `json:"cmd"`
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on every
// architecture Linux supports today).
const clockTicks = 100

// sandboxPIDs lists the processes of sandbox id: its cgroup's, or, without
// one, those below its init in the process tree (the init is PID 1 and
// subreaper of the sandbox's PID namespace).
func sandboxPIDs(root rootdir.Root, id string, initPID int) ([]int, error) {
	cg, err := sandboxCgroup(root, id, "top")
	var nc *NoCgroupError
	if errors.As(err, &nc) {
		return procstat.Descendants(initPID), nil
	}
	if err != nil {
		return nil, err
	}
	return cg.Procs()
}

// Processes lists the processes of sandbox id but its init (initPID).
func Processes(root rootdir.Root, id string, initPID int) ([]TopProcess, error) {
	pids, err := sandboxPIDs(root, id, initPID)
	if err != nil {
		return nil, err
	}
	names := passwdNames(initPID)
	var out []TopProcess
	for _, pid := range pids {
		if pid == initPID {
			continue
		}
		st, err := procstat.Read(pid)
		if err != nil || st.Exited() {
			continue // gone meanwhile
		}
		p := TopProcess{PID: pid, HostPID: pid, UID: -1, CPUSec: float64(st.UTime+st.STime) / clockTicks}
		if v, err := procstat.StatusField(procstat.StatusPath(pid), "NSpid"); err == nil {
			if f := strings.Fields(v); len(f) > 0 {
				p.PID, _ = strconv.Atoi(f[len(f)-1])
			}
		}
		if v, err := procstat.StatusField(procstat.StatusPath(pid), "Uid"); err == nil {
			if f := strings.Fields(v); len(f) > 1 {
				host, _ := strconv.Atoi(f[1]) // effective
				p.UID = insideID(pid, host)
			}
		}
		p.User = strconv.Itoa(p.UID)
		if n, ok := names[p.UID]; ok {
			p.User = n
		}
		p.Cmd = cmdline(pid)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// insideID maps a host uid to the uid process pid sees (its uid_map); -1
// when the map has none.
func insideID(pid, host int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/uid_map")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		in, _ := strconv.Atoi(f[0])
		out, _ := strconv.Atoi(f[1])
		n, _ := strconv.Atoi(f[2])
		if host >= out && host < out+n {
			return in + host - out
		}
	}
	return -1
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if s := strings.TrimSpace(string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '}))); s != "" {
		return s
	}
	comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return "[" + strings.TrimSpace(string(comm)) + "]"
}

// passwdNames reads the user names of the sandbox's /etc/passwd. The file
// is opened beneath the sandbox's root (RESOLVE_IN_ROOT): a symlink the
// sandbox planted there resolves inside it, never to a host file.
func passwdNames(initPID int) map[int]string {
	names := map[int]string{}
	rootFD, err := unix.Open(fmt.Sprintf("/proc/%d/root", initPID), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return names
	}
	defer unix.Close(rootFD)
	fd, err := unix.Openat2(rootFD, "etc/passwd", &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return names
	}
	f := os.NewFile(uintptr(fd), "passwd")
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return names
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if uid, err := strconv.Atoi(f[2]); err == nil {
			if _, dup := names[uid]; !dup {
				names[uid] = f[0]
			}
		}
	}
	return names
}

// BlockIO sums the bytes sandbox id read from and wrote to block devices:
// v2 io.stat of its cgroup; v1 (nucleus creates no blkio cgroup) the
// storage I/O of its live processes (/proc/PID/io), so what exited
// processes did is not counted there.
func BlockIO(root rootdir.Root, id string, initPID int) (read, write uint64) {
	cg, err := sandboxCgroup(root, id, "stats")
	if err == nil && cg.V2() {
		b, _ := os.ReadFile(cg.Dir() + "/io.stat")
		for _, line := range strings.Split(string(b), "\n") {
			for _, kv := range strings.Fields(line) {
				k, v, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseUint(v, 10, 64)
				switch k {
				case "rbytes":
					read += n
				case "wbytes":
					write += n
				}
			}
		}
		return read, write
	}
	pids, _ := sandboxPIDs(root, id, initPID)
	for _, pid := range pids {
		if pid == initPID {
			continue
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ": ")
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			switch k {
			case "read_bytes":
				read += n
			case "write_bytes":
				write += n
			}
		}
	}
	return read, write
}

// ProcStats is the usage of a sandbox without a cgroup, from /proc: CPU of
// its live processes and of those its init and they reaped, their resident
// memory and their threads (what pids.max would count). initPID is the init.
func ProcStats(initPID int) Stats {
	var st Stats
	var ticks uint64
	if s, err := procstat.Read(initPID); err == nil {
		ticks += s.CUTime + s.CSTime
	}
	for _, pid := range procstat.Descendants(initPID) {
		s, err := procstat.Read(pid)
		if err != nil {
			continue
		}
		ticks += s.UTime + s.STime + s.CUTime + s.CSTime
		st.MemoryBytes += s.RSS * uint64(os.Getpagesize())
		st.Pids += s.Threads
	}
	st.CPUUsec = ticks * 1e6 / clockTicks
	return st
}
