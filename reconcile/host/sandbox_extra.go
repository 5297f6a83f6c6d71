package host

import (
	"context"
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
