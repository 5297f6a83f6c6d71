package sbinit

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// serveExec runs in the init: accept exec requests until the init exits.
func (st *initState) serveExec(lfd int) {
	for {
		cfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			return
		}
		go st.handleExec(cfd)
	}
}

func (st *initState) handleExec(cfd int) {
	defer unix.Close(cfd)
	m, fds, err := recvMax(cfd, maxExecMessage)
	if err != nil {
		return
	}
	defer func() { CloseAll(fds) }() // whatever fds holds at return
	if m.Kind == MsgSocket && len(fds) == 0 {
		sendSocket(cfd, m.PID)
		return
	}
	want := 3
	if m.Exec != nil && m.Exec.Terminal {
		want = 0
	}
	if m.Kind != MsgExec || m.Exec == nil || len(fds) != want {
		_ = Send(cfd, &Message{Kind: MsgError, Err: fmt.Sprintf("exec: expected an exec request with %d fds", want)})
		return
	}
	dir := m.Exec.Dir
	if dir == "" {
		dir = st.cfg.Dir
	}
	env := append(append([]string(nil), st.cfg.Env...), m.Exec.Env...)
	var master []int // sent back with MsgStarted
	if m.Exec.Terminal {
		// Like the workload's terminal: a pty of the sandbox's own devpts;
		// the spawner makes the process a session leader with the slave
		// as its controlling terminal.
		mfd, slave, err := openConsole()
		if err != nil {
			_ = Send(cfd, &Message{Kind: MsgError, Err: err.Error()})
			return
		}
		defer unix.Close(mfd)
		if m.Exec.Rows > 0 && m.Exec.Cols > 0 {
			// Before the fork: the process must not see a 0x0 window.
			_ = unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, &unix.Winsize{Row: m.Exec.Rows, Col: m.Exec.Cols})
		}
		master = []int{mfd}
		fds = []int{slave}
	}
	files := []uintptr{uintptr(fds[0]), uintptr(fds[0]), uintptr(fds[0])}
	if !m.Exec.Terminal {
		files = []uintptr{uintptr(fds[0]), uintptr(fds[1]), uintptr(fds[2])}
	}
	sp, err := st.spawnerFor(m.Exec.User)
	if err != nil {
		_ = Send(cfd, &Message{Kind: MsgError, Err: err.Error()})
		return
	}
	pid, err := sp.spawn(spawnReq{args: m.Exec.Args, env: env, dir: dir, files: files, ctty: m.Exec.Terminal})
	CloseAll(fds) // the child has its copies (the deferred close sees none)
	fds = nil
	if err != nil {
		_ = Send(cfd, &Message{Kind: MsgError, Err: err.Error()})
		return
	}
	_ = Send(cfd, &Message{Kind: MsgStarted, PID: pid}, master...)
	// A client that goes away (a health check's timeout) takes the process
	// and its process group with it.
	var mu sync.Mutex
	exited := false
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		_, _, _ = Recv(cfd) // returns when the client closes or we shut down
		mu.Lock()
		defer mu.Unlock()
		if !exited {
			_ = unix.Kill(-pid, unix.SIGKILL)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}()
	ws := st.spawner.wait(pid) // the init's reaper tells the first spawner of every child
	mu.Lock()
	exited = true
	mu.Unlock()
	status := StatusOf(ws)
	_ = Send(cfd, &Message{Kind: MsgExecDone, Status: &status})
	_ = unix.Shutdown(cfd, unix.SHUT_RDWR)
	<-watcher
}

// spawnerFor returns the spawner that forks processes as user ("" or the
// workload's own user: the workload's spawner). Another user gets a spawner
// thread of its own, restricted as the workload's (cgroup, cgroup
// namespace, capabilities, no_new_privs, Landlock, seccomp) but for the
// identity, kept for later execs as the same user.
func (st *initState) spawnerFor(user string) (*spawner, error) {
	if user == "" || user == st.cfg.User {
		return st.spawner, nil
	}
	st.usersMu.Lock()
	defer st.usersMu.Unlock()
	if sp := st.users[user]; sp != nil {
		return sp, nil
	}
	cfg := *st.cfg
	cfg.User = user
	sp := newSpawner()
	if err := sp.restrictAs(&cfg, st.fds, true); err != nil {
		close(sp.reqs) // its goroutine ends on its locked thread, which goes with it
		return nil, fmt.Errorf("exec as user %s: %w", user, err)
	}
	if st.users == nil {
		st.users = map[string]*spawner{}
	}
	st.users[user] = sp
	return sp, nil
}

// sendSocket answers MsgSocket: a TCP socket made here, in the sandbox's
// network namespace (every thread of the init is in it), unconnected.
func sendSocket(cfd, family int) {
	if family != unix.AF_INET && family != unix.AF_INET6 {
		_ = Send(cfd, &Message{Kind: MsgError, Err: fmt.Sprintf("socket: address family %d: expected AF_INET or AF_INET6", family)})
		return
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		_ = Send(cfd, &Message{Kind: MsgError, Err: fmt.Sprintf("socket: %v", err)})
		return
	}
	defer unix.Close(fd)
	_ = Send(cfd, &Message{Kind: MsgSocket}, fd)
}
