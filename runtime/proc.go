package runtime

import (
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/procstat"
)

// initProc is the init process as started by this caller.
type initProc interface {
	wait() (unix.WaitStatus, error)
}

// rawProc is an init started by spawnInit.
type rawProc struct {
	pid    int
	copies *sync.WaitGroup // output copiers, done when the init's pipes close
}

func (p *rawProc) wait() (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(p.pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws, err
		}
		break
	}
	p.copies.Wait()
	return ws, nil
}

// cmdProc is an init started by os/exec (v2: CLONE_INTO_CGROUP).
type cmdProc struct {
	cmd    *exec.Cmd
	copies *sync.WaitGroup
}

func (p *cmdProc) wait() (unix.WaitStatus, error) {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, err
	}
	p.copies.Wait()
	ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return unix.WaitStatus(ws), nil
}

// waitPidfd waits for a process that is not our child to exit.
func waitPidfd(pid int, start uint64) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return nil
		}
		return fmt.Errorf("open pidfd of %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if st, err := procstat.StartTime(pid); err != nil || st != start {
		return nil // gone, or the pid now belongs to another process
	}
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	// It has exited, but its parent (the host's init or a subreaper, once
	// the original caller died) still has to reap it; give it a moment so
	// that "stopped" means no process entry is left either.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if st, err := procstat.StartTime(pid); err != nil || st != start {
			break
		}
	}
	return nil
}

// killPidfd sends SIGKILL to pid through a pidfd, if it is still the
// process that started at start (not a reused pid).
func killPidfd(pid int, start uint64) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if st, err := procstat.StartTime(pid); err == nil && st == start {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
}
