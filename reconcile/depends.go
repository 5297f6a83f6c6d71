package reconcile

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"nucleus/spec"
)

// WaitingError says a replica was not started because a depends_on
// condition does not hold yet. It is not a failure: the replica is
// recorded as waiting, and a later pass starts it.
type WaitingError struct {
	Replica string // "app-1"
	For     string // "db-1 to be healthy (now: backoff, exit code 1)"
}

func (e *WaitingError) Error() string { return e.Replica + " waits for " + e.For }

// WithoutWaiting drops the *WaitingErrors from err (a step's error may join
// several replicas'): what is left is a failure; nil when nothing is.
func WithoutWaiting(err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var rest []error
		for _, e := range j.Unwrap() {
			if e = WithoutWaiting(e); e != nil {
				rest = append(rest, e)
			}
		}
		if len(rest) == 0 {
			return nil
		}
		if len(rest) == len(j.Unwrap()) {
			return err
		}
		return errors.Join(rest...)
	}
	var w *WaitingError
	if errors.As(err, &w) {
		return nil
	}
	return err
}

// blocked is why a replica cannot start now: want names the condition and
// the dependency's state; failed is set when the dependency will not
// satisfy it without the user (exited for good, crashloop).
type blocked struct {
	want   string
	failed string
}

// dependencies checks every depends_on condition of s now, without
// waiting: nil when all hold.
func (sv *Supervisor) dependencies(desired *spec.Project, s *spec.Service) *blocked {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.init()
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		cond, required := s.DependsOn[dep].Condition, s.DependsOn[dep].IsRequired()
		ds := desired.Services[dep]
		switch {
		case ds == nil && !required:
			slog.Warn("optional dependency is not in the project; starting without it", "service", s.Name, "dependency", dep)
			continue
		case ds == nil:
			return &blocked{want: dep + " (not in the project)", failed: dep + " is not in the project"}
		case ds.Replicas == 0 && !required:
			slog.Warn("optional dependency has no replicas; starting without it", "service", s.Name, "dependency", dep)
			continue
		}
		for n := 1; n <= max(ds.Replicas, 1); n++ {
			b := sv.conditionLocked(sv.ident(dep, n), cond)
			if b != nil && b.failed != "" && !required {
				// Compose warns and starts the dependent anyway.
				slog.Warn("optional dependency failed; starting without it", "service", s.Name, "dependency", dep, "reason", b.failed)
				break
			}
			if b != nil {
				return b
			}
		}
	}
	return nil
}

// conditionWords is how a condition reads after "waits for db-1".
var conditionWords = map[string]string{
	spec.ConditionStarted:   "to be started",
	spec.ConditionHealthy:   "to be healthy",
	spec.ConditionCompleted: "to complete successfully",
}

// conditionLocked checks one depends_on condition on one replica of the
// dependency: nil when it holds.
func (sv *Supervisor) conditionLocked(id Ident, cond string) *blocked {
	want := id.Name() + " " + conditionWords[cond]
	r := sv.replicas[id]
	if r == nil {
		return &blocked{want: want + " (now: not running)"} // not started yet, or stopped by the user
	}
	rec := r.rec
	st := rec.State
	holds := false
	switch cond {
	case spec.ConditionHealthy:
		holds = st == StateHealthy || sv.Health == nil && st.Alive()
	case spec.ConditionCompleted:
		holds = st == StateExited && rec.ExitCode == 0 && rec.Error == ""
	default: // service_started: it runs, or ran (exited since)
		holds = st.Alive() || rec.InitPID != 0 && st != StateWaiting
	}
	if holds {
		return nil
	}
	b := &blocked{want: want + " (now: " + stateWords(rec, sv.now()) + ")"}
	switch {
	case st == StateCrashloop:
		b.failed = fmt.Sprintf("%s is in crashloop (exit code %d, %d restarts)", id.Name(), rec.ExitCode, rec.Restart.Restarts)
	case st == StateExited && cond == spec.ConditionCompleted:
		b.failed = fmt.Sprintf("%s exited with code %d, expected %s", id.Name(), rec.ExitCode, cond)
	case st == StateExited:
		b.failed = fmt.Sprintf("%s exited (exit code %d) and will not be restarted, expected %s", id.Name(), rec.ExitCode, cond)
	}
	if rec.Error != "" && b.failed != "" {
		b.failed += ": start failed: " + rec.Error
	}
	return b
}

// stateWords describes a dependency's state for a waiting replica.
func stateWords(rec *SandboxRecord, now time.Time) string {
	switch rec.State {
	case StateBackoff, StateCrashloop:
		s := fmt.Sprintf("%s, exit code %d", rec.State, rec.ExitCode)
		if !rec.Restart.NextAttempt.IsZero() {
			s += fmt.Sprintf(", next attempt in %s", max(rec.Restart.NextAttempt.Sub(now), 0).Round(100*time.Millisecond))
		}
		return s
	case StateExited:
		return fmt.Sprintf("exited, exit code %d", rec.ExitCode)
	}
	return string(rec.State)
}

// recordWaiting records a replica that waits for its dependencies, with
// the restart bookkeeping its start will carry.
func (sv *Supervisor) recordWaiting(service string, s *spec.Service, n int, restart RestartState, b *blocked) {
	rec := &SandboxRecord{
		Project: sv.Project, Service: service, Replica: n, ID: sv.ident(service, n).ID(),
		Hash: serviceHash(s), Applied: s, State: StateWaiting, Restart: restart,
		Waiting: b.want, Permanent: b.failed,
	}
	logStepError("record "+rec.Ident().Name()+" waiting for "+b.want, sv.record(rec))
}
