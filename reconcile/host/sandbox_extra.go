package host

import (
	"context"
	"os"
	"syscall"

	"nucleus/runtime"
)

// Kill ends the workload at once (a second Ctrl-C during a stop).
func (s sandbox) Kill() error { return s.sb.Signal(syscall.SIGKILL) }

// ExecCheck runs an exec health check inside the sandbox.
func (s sandbox) ExecCheck(ctx context.Context, argv []string) (int, error) {
	st, err := s.sb.Exec(ctx, runtime.ExecConfig{Args: argv})
	return st.Code, err
}

// Socket is an unconnected TCP socket of the sandbox's network namespace
// (tcp and http health checks of an ordinary user's sandboxes).
func (s sandbox) Socket(family int) (*os.File, error) { return s.sb.Socket(family) }
