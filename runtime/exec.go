package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/runtime/sbinit"
)

// Exec: a process started inside a running sandbox must get exactly the
// workload's confinement (namespaces, cgroup, identity, capabilities,
// no_new_privs, Landlock, seccomp). A multi-threaded Go process cannot
// setns into a user or mount namespace, and re-creating the confinement
// in a fresh child would duplicate the init's logic. So the init forks exec'd
// processes itself, from its spawner thread, which already carries all of
// it. Clients reach the init over a SEQPACKET socket in the sandbox's state
// directory (created by the caller, root-only), sending the process's stdio
// as fds; this works as well for a supervisor that adopted the sandbox.

const ctlSocket = "ctl.sock"

// listenCtl creates the exec socket of a sandbox and returns its fd.
func listenCtl(dir string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("exec socket: %w", err)
	}
	path := filepath.Join(dir, ctlSocket)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind exec socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("exec socket: %w", err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen on exec socket: %w", err)
	}
	return fd, nil
}

// Exec runs a process inside the running sandbox and waits for it.
func (s *Sandbox) Exec(ctx context.Context, ec ExecConfig) (ExitStatus, error) {
	if len(ec.Args) == 0 {
		return ExitStatus{}, fmt.Errorf("exec in %s: empty command", s.id)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ExitStatus{}, fmt.Errorf("exec in %s: %w", s.id, err)
	}
	conn := os.NewFile(uintptr(fd), "exec")
	defer conn.Close()
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: filepath.Join(s.dir, ctlSocket)}); err != nil {
		return ExitStatus{}, fmt.Errorf("exec in %s: connect to the init: %w", s.id, err)
	}
	req := &sbinit.Message{Kind: sbinit.MsgExec, Exec: &sbinit.ExecRequest{Args: ec.Args, Env: ec.Env, Dir: ec.Dir, Terminal: ec.Terminal,
		Rows: ec.Rows, Cols: ec.Cols, User: ec.User}}
	copies := &sync.WaitGroup{}
	if ec.Terminal {
		err = sbinit.Send(fd, req) // the init allocates the terminal
	} else {
		var stdio [3]*os.File
		stdio, copies, err = execStdio(ec)
		if err != nil {
			return ExitStatus{}, err
		}
		err = sbinit.Send(fd, req, int(stdio[0].Fd()), int(stdio[1].Fd()), int(stdio[2].Fd()))
		for _, f := range stdio {
			f.Close() // the child's ends now live in the init
		}
	}
	if err != nil {
		return ExitStatus{}, fmt.Errorf("exec in %s: %w", s.id, err)
	}
	// Cancelling closes the connection: the init then kills the process
	// (and its process group), and recv returns.
	stop := context.AfterFunc(ctx, func() { unix.Shutdown(fd, unix.SHUT_RDWR) })
	defer stop()
	m, mfds, err := sbinit.Recv(fd)
	if err == nil && m.Kind == sbinit.MsgError {
		err = errors.New(m.Err)
	}
	var outDone chan struct{}
	if err == nil && m.Kind == sbinit.MsgStarted {
		if ec.Terminal {
			if len(mfds) != 1 {
				sbinit.CloseAll(mfds)
				return ExitStatus{}, fmt.Errorf("exec in %s: the init sent no terminal", s.id)
			}
			master := os.NewFile(uintptr(mfds[0]), "exec-pty-master")
			defer master.Close()
			outDone = attachTerminal(master, ec)
		}
		m, _, err = sbinit.Recv(fd)
	}
	if outDone != nil {
		// The output ends when the last holder of the terminal exits; a
		// daemon left behind may hold it forever.
		select {
		case <-outDone:
		case <-time.After(200 * time.Millisecond):
		}
	}
	copies.Wait()
	if err != nil {
		if ctx.Err() != nil {
			return ExitStatus{}, fmt.Errorf("exec in %s: %w", s.id, ctx.Err())
		}
		return ExitStatus{}, fmt.Errorf("exec in %s: %w", s.id, err)
	}
	if m.Kind != sbinit.MsgExecDone || m.Status == nil {
		return ExitStatus{}, fmt.Errorf("exec in %s: unexpected reply %q", s.id, m.Kind)
	}
	return *m.Status, nil
}

// Socket returns an unconnected TCP socket of family (unix.AF_INET or
// AF_INET6) that the init made in the sandbox's network namespace: what
// connects through it connects from inside, as a peer of the sandbox
// would, without the caller entering the namespace (which an ordinary
// user cannot: setns needs CAP_SYS_ADMIN in the caller's user namespace).
func (s *Sandbox) Socket(family int) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket in %s: %w", s.id, err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: filepath.Join(s.dir, ctlSocket)}); err != nil {
		return nil, fmt.Errorf("socket in %s: connect to the init: %w", s.id, err)
	}
	if err := sbinit.Send(fd, &sbinit.Message{Kind: sbinit.MsgSocket, PID: family}); err != nil {
		return nil, fmt.Errorf("socket in %s: %w", s.id, err)
	}
	m, fds, err := sbinit.Recv(fd)
	switch {
	case err != nil:
		return nil, fmt.Errorf("socket in %s: %w", s.id, err)
	case m.Kind == sbinit.MsgError:
		sbinit.CloseAll(fds)
		return nil, fmt.Errorf("socket in %s: %s", s.id, m.Err)
	case m.Kind != sbinit.MsgSocket || len(fds) != 1:
		sbinit.CloseAll(fds)
		return nil, fmt.Errorf("socket in %s: unexpected reply %q with %d fds", s.id, m.Kind, len(fds))
	}
	return os.NewFile(uintptr(fds[0]), "sandbox-socket"), nil
}

// attachTerminal hands an exec's terminal master to ec.Console and copies
// Stdin to it and its output to Stdout; the channel closes at end of output.
func attachTerminal(master *os.File, ec ExecConfig) chan struct{} {
	if ec.Console != nil {
		ec.Console(master)
	}
	if ec.Stdin != nil {
		go func() { _, _ = io.Copy(master, ec.Stdin) }()
	}
	done := make(chan struct{})
	out := ec.Stdout
	if out == nil {
		out = io.Discard
	}
	go func() { _, _ = io.Copy(out, master); close(done) }()
	return done
}

// ResizeTerminal sets the window size of an exec's terminal (ExecConfig.Console).
func ResizeTerminal(master *os.File, rows, cols uint16) error {
	return unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

// execStdio returns the three files to hand to the process (pipes with copy
// goroutines for non-file readers and writers, /dev/null for nil).
func execStdio(ec ExecConfig) ([3]*os.File, *sync.WaitGroup, error) {
	var out [3]*os.File
	wg := &sync.WaitGroup{}
	fail := func(err error) ([3]*os.File, *sync.WaitGroup, error) {
		for _, f := range out {
			if f != nil {
				f.Close()
			}
		}
		return out, wg, fmt.Errorf("exec stdio: %w", err)
	}
	if f, ok := ec.Stdin.(*os.File); ok {
		out[0] = dupFile(f)
	} else if ec.Stdin == nil {
		f, err := os.Open(os.DevNull)
		if err != nil {
			return fail(err)
		}
		out[0] = f
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		out[0] = r
		go func() { _, _ = io.Copy(w, ec.Stdin); w.Close() }()
	}
	for i, wr := range []io.Writer{ec.Stdout, ec.Stderr} {
		if f, ok := wr.(*os.File); ok {
			out[i+1] = dupFile(f)
			continue
		}
		if wr == nil {
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				return fail(err)
			}
			out[i+1] = f
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		out[i+1] = w
		wg.Add(1)
		go func(wr io.Writer) { defer wg.Done(); _, _ = io.Copy(wr, r); r.Close() }(wr)
	}
	return out, wg, nil
}

func dupFile(f *os.File) *os.File {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return f
	}
	return os.NewFile(uintptr(fd), f.Name())
}
