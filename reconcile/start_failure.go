package reconcile

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"nucleus/internal/helperbin"
	"nucleus/spec"
)

// Exit codes recorded for a start that failed before the workload ran, as
// Docker reports them: the command was not found, could not be executed,
// or the sandbox itself could not be set up.
const (
	ExitCodeNotFound      = 127
	ExitCodeCannotExecute = 126
	ExitCodeStartFailed   = 125
)

// startFailureMeaning says what an exit code recorded for a failed start
// means: they are nucleus's, not the workload's (it never ran).
func startFailureMeaning(code int) string {
	switch code {
	case ExitCodeNotFound:
		return "the command was not found"
	case ExitCodeCannotExecute:
		return "the command cannot be executed"
	}
	return "nucleus could not set up the sandbox"
}

// recordFailedStart records a start that failed as an exit of the replica,
// so the restart policy and back-off treat it like a crash: the replica
// shows as exited (or backoff) with the error in ps, and a wake-up asks
// for the next attempt instead of waiting for a file change.
func (sv *Supervisor) recordFailedStart(service string, s *spec.Service, n int, restart RestartState, cause error) {
	now := sv.now()
	code, permanent := classifyStartFailure(cause)
	rec := &SandboxRecord{
		Project: sv.Project, Service: service, Replica: n, ID: sv.ident(service, n).ID(),
		Hash: serviceHash(s), Applied: s, State: StateExited, ExitCode: code,
		StartedAt: now, ExitedAt: now, Error: cause.Error(), Permanent: permanent,
	}
	rec.Restart = sv.Backoff.Exited(restart, now)
	retry, _ := ShouldRestart(s.Restart, ExitInfo{Code: code, Restarts: rec.Restart.Restarts})
	if retry {
		rec.State, _ = sv.Backoff.Waiting(rec.Restart)
	} else {
		rec.Restart.NextAttempt = time.Time{}
	}
	// Known as exited, so dependents waiting on it see the failure.
	done := make(chan struct{})
	close(done)
	sv.mu.Lock()
	sv.init()
	sv.replicas[rec.Ident()] = &replica{id: rec.Ident(), rec: rec, done: done}
	sv.putLocked(rec)
	sv.broadcastLocked()
	sv.mu.Unlock()
	logStepError("record failed start of "+rec.String(), sv.persist(rec.Ident()))
	if retry {
		sv.wakeAt(rec.Restart.NextAttempt)
	}
}

// Why a failure will repeat on every retry, as `up --wait` names it.
const (
	PermanentPortTaken  = "a published host port is taken by another program"
	PermanentNetwork    = "its network cannot take it"
	PermanentNotFound   = "command not found"
	PermanentCannotExec = "command cannot be executed"
	// PermanentHelperMissing starts the reason when one of nucleus's own
	// helper binaries is not installed; the name and path follow.
	PermanentHelperMissing = "nucleus's helper binary"
)

// classifyStartFailure is the one place that decides what a failed start
// means: the exit code recorded for it and, when a retry cannot fix it
// (the user has to change the files or the host first), why; "" for a
// failure that may pass on a retry (a busy resource, a timeout).
func classifyStartFailure(err error) (code int, permanent string) {
	var missing *helperbin.MissingError
	if errors.As(err, &missing) {
		// nucleus's own install is incomplete, not the user's command:
		// 125, and a retry finds the helper no more than this start did.
		return ExitCodeStartFailed, fmt.Sprintf("%s %s is missing (expected at %s)", PermanentHelperMissing, missing.Name, missing.Path)
	}
	code = startFailureCode(err)
	var p interface{ Permanent() bool }
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		permanent = PermanentPortTaken
	case errors.As(err, &p) && p.Permanent(): // the network's: no free address, port forwarded by another project
		permanent = PermanentNetwork
	default:
		permanent = permanentExit(code)
	}
	return code, permanent
}

// permanentExit says why a workload's exit code means it will fail the
// same way again: 127 and 126 are what shells and the init return when
// the command is missing or not executable.
func permanentExit(code int) string {
	switch code {
	case ExitCodeNotFound:
		return PermanentNotFound
	case ExitCodeCannotExecute:
		return PermanentCannotExec
	}
	return ""
}

// startFailureCode maps a start error to an exit code.
func startFailureCode(err error) int {
	msg := err.Error()
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist),
		strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return ExitCodeNotFound
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC),
		strings.Contains(msg, "permission denied"), strings.Contains(msg, "exec format error"):
		return ExitCodeCannotExecute
	}
	return ExitCodeStartFailed
}
