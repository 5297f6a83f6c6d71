package reconcile

import (
	"fmt"

	"nucleus/spec"
)

// ExitInfo is what the restart policy needs to know about a replica that
// stopped running (or turned unhealthy).
type ExitInfo struct {
	Code int // exit code; 128+N for a signal, 137 for an OOM kill
	// Unhealthy is true when the workload runs but failed its health check.
	Unhealthy bool
	// ManualStop is true when the user stopped it (nucleus stop).
	ManualStop bool
	// SupervisorStart is true on the first pass of a (re)started supervisor:
	// policy "always" then restarts even a manually stopped replica, like
	// Docker's after a daemon restart; "unless-stopped" does not.
	SupervisorStart bool
	// Restarts counts restarts since the last reset.
	Restarts int
}

// ShouldRestart decides whether a replica is started again, and says why in
// a form fit for a plan cause.
func ShouldRestart(p spec.RestartPolicy, e ExitInfo) (bool, string) {
	what := fmt.Sprintf("exited with code %d", e.Code)
	if e.Unhealthy {
		what = "unhealthy"
	}
	failed := e.Code != 0 || e.Unhealthy
	switch p.Policy {
	case spec.RestartAlways:
		if e.ManualStop && !e.SupervisorStart {
			return false, "stopped by the user"
		}
		return true, what + ", restart: always"
	case spec.RestartUnlessStopped:
		if e.ManualStop {
			return false, "stopped by the user"
		}
		return true, what + ", restart: unless-stopped"
	case spec.RestartOnFailure:
		if e.ManualStop {
			return false, "stopped by the user"
		}
		if !failed {
			return false, what + ", restart: on-failure"
		}
		if p.MaxRetries > 0 && e.Restarts >= p.MaxRetries {
			return false, fmt.Sprintf("%s, restart: on-failure:%d exhausted after %d restarts", what, p.MaxRetries, e.Restarts)
		}
		if p.MaxRetries > 0 {
			return true, fmt.Sprintf("%s, restart: on-failure:%d (restart %d)", what, p.MaxRetries, e.Restarts+1)
		}
		return true, what + ", restart: on-failure"
	}
	// "no" and the zero value.
	return false, what + ", restart: no"
}
