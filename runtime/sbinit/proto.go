package sbinit

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The caller and the init talk over a SOCK_SEQPACKET socket pair: one
// Message per packet (encoded by codec.go), file descriptors attached as
// SCM_RIGHTS. SEQPACKET keeps Message boundaries without framing and reports
// the peer's death as EOF.

// Message kinds.
const (
	MsgConfig   = "config"   // caller -> init: Config, fds: see Config
	MsgReady    = "ready"    // init -> caller: root built, waiting for start
	MsgStart    = "start"    // caller -> init
	MsgStarted  = "started"  // init -> caller: PID = host-invisible pid of the workload inside
	MsgExit     = "exit"     // init -> caller: Status of the workload; init exits next
	MsgError    = "error"    // init -> caller: Err
	MsgCgroup   = "cgroup"   // caller -> init (Config.CgroupLater): fds = v1 tasks files
	MsgExec     = "exec"     // client -> init: Exec, fds: stdin, stdout, stderr
	MsgExecDone = "execdone" // init -> client: Status
	// MsgSocket: client -> init, PID = an address family (AF_INET,
	// AF_INET6); init -> client: an unconnected TCP socket of the sandbox's
	// network namespace as the one fd. A caller that cannot setns there (an
	// ordinary user: setns needs CAP_SYS_ADMIN in its own user namespace)
	// connects it to probe a port from inside (tcp and http health checks).
	MsgSocket = "socket"
)

// Writable layers of a root with read_only false (Message.Writable).
const (
	WritableUpper = "upper" // overlayfs over Config.FDUpper's directory, kept on disk
	WritableTmpfs = "tmpfs" // overlayfs over a tmpfs, gone with the sandbox
)

// Message is one packet.
type Message struct {
	Kind   string       `json:"kind"`
	Config *Config      `json:"config,omitempty"`
	Exec   *ExecRequest `json:"exec,omitempty"`
	PID    int          `json:"pid,omitempty"`
	Status *ExitStatus  `json:"status,omitempty"`
	Err    string       `json:"err,omitempty"`
	ABI    int          `json:"abi,omitempty"` // MsgReady: Landlock ABI in force
	// Writable (MsgReady) is the root's writable layer: WritableUpper,
	// WritableTmpfs, or "" for a read-only root.
	Writable string `json:"writable,omitempty"`
}

// ExecRequest is a process to start inside a running sandbox.
type ExecRequest struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
	// Terminal: no stdio fds come with the request; the process gets a pty
	// from the sandbox's devpts as its controlling terminal, and the
	// master goes back with MsgStarted.
	Terminal bool `json:"terminal,omitempty"`
	// Rows, Cols: the terminal's window size, set before the process
	// starts (0: unset).
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// User, when set, runs the process as this user instead of the
	// workload's (exec -u), forked from a spawner thread of its own.
	User string `json:"user,omitempty"`
}

// maxMessage bounds one packet (config with seccomp BPF and files).
const maxMessage = 4 << 20

func Send(fd int, m *Message, fds ...int) error {
	b := encodeMessage(m)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(fd, b, oob, nil, unix.MSG_NOSIGNAL); err != nil {
		return fmt.Errorf("send %s Message: %w", m.Kind, err)
	}
	return nil
}

// maxExecMessage bounds a request on the exec socket (argv, env): the
// init decodes it with GOMEMLIMIT=6MiB.
const maxExecMessage = 1 << 20

// Recv reads one Message and the fds that came with it (close-on-exec).
func Recv(fd int) (*Message, []int, error) { return recvMax(fd, maxMessage) }

// afterPeek runs between recvMax's peek and its read (tests: a peer that
// exits just then).
var afterPeek func()

// recvMax is Recv for Messages of at most limit bytes.
func recvMax(fd, limit int) (*Message, []int, error) {
	oob := make([]byte, unix.CmsgSpace(4*64))
	reset := false
	for {
		// Learn the packet's size first (MSG_TRUNC reports the real length),
		// so a small Message does not cost a large buffer.
		size, _, _, _, err := unix.Recvmsg(fd, make([]byte, 1), nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ECONNRESET && !reset {
			// The peer exited with a Message of ours unread: the kernel
			// reports that once, before the Messages it sent (an init's
			// error report) that are still queued. Read on.
			reset = true
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("receive Message: %w", err)
		}
		if size > limit {
			// Drop it, and the fds that came with it.
			if _, oobn, _, _, err := unix.Recvmsg(fd, make([]byte, 1), oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_TRUNC); err == nil && oobn > 0 {
				closeRights(oob[:oobn])
			}
			return nil, nil, fmt.Errorf("receive Message: %d bytes is more than the %d allowed", size, limit)
		}
		buf := make([]byte, size+1)
		if afterPeek != nil {
			afterPeek()
		}
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ECONNRESET && !reset {
			// The peer exited after the peek (its report was queued
			// already): the same once-only error, reported here.
			reset = true
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("receive Message: %w", err)
		}
		if n == 0 && oobn == 0 {
			return nil, nil, ErrEOF
		}
		var fds []int
		if oobn > 0 {
			if fds, err = parseRights(oob[:oobn]); err != nil {
				return nil, nil, err
			}
		}
		m, err := decodeMessage(buf[:n])
		if err != nil {
			for _, f := range fds {
				unix.Close(f)
			}
			return nil, nil, fmt.Errorf("decode Message: %w", err)
		}
		return m, fds, nil
	}
}

func parseRights(oob []byte) ([]int, error) {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control Message: %w", err)
	}
	var fds []int
	for _, c := range cmsgs {
		if r, err := unix.ParseUnixRights(&c); err == nil {
			fds = append(fds, r...)
		}
	}
	return fds, nil
}

func closeRights(oob []byte) {
	fds, _ := parseRights(oob)
	CloseAll(fds)
}

type eofError struct{}

func (eofError) Error() string { return "peer closed the control socket" }

var ErrEOF error = eofError{}

// SocketPair returns a connected SEQPACKET pair as files (close-on-exec).
func SocketPair() (*os.File, *os.File, error) {
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("create control socket pair: %w", err)
	}
	return os.NewFile(uintptr(p[0]), "ctl-parent"), os.NewFile(uintptr(p[1]), "ctl-init"), nil
}

// CloseAll closes fds, ignoring errors.
func CloseAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
