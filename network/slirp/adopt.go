package slirp

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/procstat"
)

// Adopt takes over the running slirp4netns pid that another process
// started with the same cfg (that process holds its exit pipe, so the
// instance lives as long as its creator). The Network is Active at once;
// its forwards are read back with list_hostfwd, so SetForwards changes
// only what differs. Stop ends an adopted instance with SIGTERM, then
// SIGKILL after 2 s, instead of the exit pipe.
func Adopt(cfg Config, pid int) (*Network, error) {
	n, err := New(cfg)
	if err != nil {
		return nil, err
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("adopt slirp4netns pid %d: %w", pid, err)
	}
	// Checked after pidfd_open: the fd pins this very process, so a PID
	// reused after the check cannot be signalled by mistake.
	if !IsInstance(pid, n.APISocket()) {
		unix.Close(fd)
		return nil, fmt.Errorf("adopt slirp4netns: pid %d is not the slirp4netns serving %s", pid, n.APISocket())
	}
	if os.Geteuid() == 0 && !hasGID(pid, GID) {
		// Started before slirp4netns ran with its own group: its sockets
		// pass as the host's, so it is replaced instead.
		unix.Close(fd)
		return nil, fmt.Errorf("adopt slirp4netns: pid %d does not run with group %d", pid, GID)
	}
	entries, err := listHostfwd(n.APISocket())
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("adopt slirp4netns pid %d: list_hostfwd: %w", pid, err)
	}
	for _, e := range entries {
		f := fromEntry(e)
		n.forwards[n.key(f)] = added{f, e.ID}
	}
	n.pid, n.pidfd = pid, fd
	n.dir = n.cfg.RuntimeRoot + "/" + n.cfg.ID
	n.exited = make(chan struct{})
	go func() {
		// A pidfd becomes readable when the process exits.
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		close(n.exited)
	}()
	n.state = Active
	return n, nil
}

// IsInstance reports whether pid is a live slirp4netns using apiSocket.
func IsInstance(pid int, apiSocket string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	if len(args) == 0 || !strings.HasSuffix(args[0], "slirp4netns") {
		return false
	}
	for i, a := range args {
		if a == apiSocket && i > 0 && args[i-1] == "--api-socket" {
			return true
		}
	}
	return false
}

// hasGID reports whether every group id of pid (real, effective, saved,
// filesystem) is gid.
func hasGID(pid, gid int) bool {
	v, err := procstat.StatusField(procstat.StatusPath(pid), "Gid")
	if err != nil {
		return false
	}
	f := strings.Fields(v)
	for _, g := range f {
		if g != strconv.Itoa(gid) {
			return false
		}
	}
	return len(f) == 4
}

// stopAdopted ends an adopted instance. Callers hold n.mu.
func (n *Network) stopAdopted() {
	unix.PidfdSendSignal(n.pidfd, unix.SIGTERM, nil, 0) //nolint:errcheck // may be gone already
	select {
	case <-n.exited:
	case <-time.After(stopGrace):
		unix.PidfdSendSignal(n.pidfd, unix.SIGKILL, nil, 0) //nolint:errcheck // may be gone already
		<-n.exited
	}
	unix.Close(n.pidfd)
	n.pidfd = 0
}
