package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/reconcile/host"
	"nucleus/spec"
)

// WaitReady waits until every replica of desired's services runs (and is
// healthy when it has a health check; a one-shot that exited 0 and is not
// restarted counts as done). When ctx ends first, the error names the
// replica and the condition that blocked. A replica that will never run
// (exited and its restart policy does not start it again, or in crashloop)
// fails the wait at once, with its exit code and last log lines.
func WaitReady(ctx context.Context, root rootdir.Root, desired *spec.Project) error {
	return waitReady(ctx, desired, statusOf(root, desired), logsOf(root, desired))
}

// WillNotRun looks once for a replica of desired's services that will
// never run (see WaitReady) and returns its ErrWillNotRun error; nil when
// there is none. up --wait asks it after an apply error, to name the
// replica and why a retry cannot help.
func WillNotRun(ctx context.Context, root rootdir.Root, desired *spec.Project) error {
	st, err := statusOf(root, desired)(ctx)
	if err != nil {
		return nil
	}
	return willNotRunErr(desired, st.Replicas, logsOf(root, desired))
}

// NotReadyNow says, from one look at the status, which replica of
// desired's services is not ready and why (or that all are); for a wait
// that ended before it could poll.
func NotReadyNow(root rootdir.Root, desired *spec.Project) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := statusOf(root, desired)(ctx)
	if err != nil {
		return "status: " + err.Error()
	}
	if err := willNotRunErr(desired, st.Replicas, logsOf(root, desired)); err != nil {
		return err.Error()
	}
	if why := notReady(desired, st.Replicas, time.Now()); why != "" {
		return "not ready: " + why
	}
	return "every replica runs, but the pass applying the files has not finished"
}

func statusOf(root rootdir.Root, desired *spec.Project) func(context.Context) (*StatusResponse, error) {
	return func(ctx context.Context) (*StatusResponse, error) {
		return Status(ctx, root, desired.Name, nil)
	}
}

// logsOf returns a replica's last log lines.
func logsOf(root rootdir.Root, desired *spec.Project) func(reconcile.ReplicaStatus) []string {
	return func(r reconcile.ReplicaStatus) []string {
		lines, err := host.Logs(root, desired.Name, host.LogOptions{Services: []string{r.Service}, Tail: waitLogLines}, time.Now())
		if err != nil {
			return []string{"(logs: " + err.Error() + ")"}
		}
		var out []string
		for _, l := range lines {
			if l.Replica == r.Name {
				out = append(out, l.Line)
			}
		}
		return out
	}
}

// waitLogLines is how many of its last log lines a failed wait shows.
const waitLogLines = 10

// ErrWillNotRun is wrapped by a wait that failed because a replica will
// never run.
var ErrWillNotRun = errors.New("will not run")

// waitReady polls status until desired is ready or ctx ends. A status
// request that fails (a supervisor slow under load, or cut off by the
// deadline itself) is retried; the error then still names what was last
// seen blocking, with the request's error when there was one.
func waitReady(ctx context.Context, desired *spec.Project, status func(context.Context) (*StatusResponse, error), logs func(reconcile.ReplicaStatus) []string) error {
	lastBlocked := ""
	var lastErr error
	for {
		st, err := status(ctx)
		lastErr = err
		if err == nil {
			if err := willNotRunErr(desired, st.Replicas, logs); err != nil {
				return err
			}
			lastBlocked = notReady(desired, st.Replicas, time.Now())
			if lastBlocked == "" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			switch {
			case lastBlocked == "":
				return fmt.Errorf("not ready: %w", lastErr)
			case lastErr != nil && ctx.Err() != nil && !errors.Is(lastErr, ctx.Err()):
				return fmt.Errorf("not ready: %s (last status request: %v)", lastBlocked, lastErr)
			}
			return fmt.Errorf("not ready: %s", lastBlocked)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// willNotRunErr is the error for the first replica that will never run,
// with its last log lines; nil when there is none.
func willNotRunErr(desired *spec.Project, reps []reconcile.ReplicaStatus, logs func(reconcile.ReplicaStatus) []string) error {
	r, why := willNotRun(desired, reps)
	if why == "" {
		return nil
	}
	if lines := logs(r); len(lines) > 0 {
		why += "; last log lines of " + r.Name + ":\n  " + strings.Join(lines, "\n  ")
	} else {
		why += "; " + r.Name + " logged nothing"
	}
	return fmt.Errorf("%w: %s", ErrWillNotRun, why)
}

// willNotRun finds the first replica of desired's services that will never
// run without the user: it exited (or failed to start) and its restart
// policy does not start it again (the supervisor records such a replica
// "exited", one it restarts "backoff"), or it is in crashloop. A one-shot
// that exited 0 is done, not failed. The replicas waiting for it are named
// with it. Then a replica waiting for a dependency that will not come
// (one that exited 0, for service_healthy) is named with that dependency,
// whose logs are the ones to read.
func willNotRun(desired *spec.Project, reps []reconcile.ReplicaStatus) (reconcile.ReplicaStatus, string) {
	if r, why := failedReplica(desired, reps); why != "" {
		return r, why + waitersOf(desired, reps, r.Service)
	}
	for _, r := range reps {
		if r.State != reconcile.StateWaiting || r.Permanent == "" || desired.Services[r.Service] == nil {
			continue
		}
		why := fmt.Sprintf("%s will not start: dependency %s", r.Name, r.Permanent)
		for _, d := range reps {
			if _, ok := desired.Services[r.Service].DependsOn[d.Service]; ok && strings.HasPrefix(r.Permanent, d.Name+" ") {
				return d, why
			}
		}
		return r, why
	}
	return reconcile.ReplicaStatus{}, ""
}

// waitersOf names the replicas waiting for service: "; app-1 waits for it".
func waitersOf(desired *spec.Project, reps []reconcile.ReplicaStatus, service string) string {
	var names []string
	for _, r := range reps {
		if s := desired.Services[r.Service]; s != nil && r.State == reconcile.StateWaiting {
			if _, ok := s.DependsOn[service]; ok {
				names = append(names, r.Name)
			}
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return "; " + names[0] + " waits for it"
	}
	return "; " + strings.Join(names, ", ") + " wait for it"
}

// failedReplica is willNotRun for the replicas' own failures.
func failedReplica(desired *spec.Project, reps []reconcile.ReplicaStatus) (reconcile.ReplicaStatus, string) {
	for _, r := range reps {
		s := desired.Services[r.Service]
		if s == nil || r.Replica > max(s.Replicas, 1) {
			continue
		}
		code := "no exit code"
		if r.ExitCode != nil {
			code = fmt.Sprintf("exit code %d", *r.ExitCode)
		}
		if r.Error != "" {
			code += ", start failed: " + r.Error
		}
		switch {
		case r.State == reconcile.StateWaiting: // see willNotRun
		case r.Permanent != "" && !r.State.Alive():
			what := "exited"
			if r.Error != "" {
				what = "failed to start"
			}
			return r, fmt.Sprintf("%s %s and a retry will not fix it: %s (%s)", r.Name, what, r.Permanent, code)
		case r.State == reconcile.StateCrashloop:
			return r, fmt.Sprintf("%s is in crashloop (%s, %d restarts)", r.Name, code, r.Restarts)
		case r.State == reconcile.StateExited && (r.ExitCode != nil && *r.ExitCode != 0 || r.Error != ""):
			return r, fmt.Sprintf("%s exited (%s) and restart: %s does not start it again", r.Name, code, policyName(s.Restart))
		}
	}
	return reconcile.ReplicaStatus{}, ""
}

func policyName(p spec.RestartPolicy) string {
	switch {
	case p.Policy == "":
		return "no"
	case p.Policy == spec.RestartOnFailure && p.MaxRetries > 0:
		return fmt.Sprintf("%s:%d", p.Policy, p.MaxRetries)
	}
	return string(p.Policy)
}

// waitSettle is how long a replica without a health check must have run
// to count as ready.
const waitSettle = 200 * time.Millisecond

// notReady names the first replica that is not ready and why; "" when all are.
func notReady(desired *spec.Project, reps []reconcile.ReplicaStatus, now time.Time) string {
	byName := map[string]reconcile.ReplicaStatus{}
	for _, r := range reps {
		byName[r.Name] = r
	}
	for _, name := range slices.Sorted(maps.Keys(desired.Services)) {
		s := desired.Services[name]
		for n := 1; n <= max(s.Replicas, 1); n++ {
			rn := reconcile.Ident{Service: name, Index: n}.Name()
			r, ok := byName[rn]
			if !ok {
				return rn + " has not been started"
			}
			switch {
			case r.State == reconcile.StateHealthy:
			case r.State == reconcile.StateRunning && s.Healthcheck == nil:
				// Without a health check, running is ready once it lasted
				// a moment: a command that fails at once is seen running
				// for a glimpse, and must fail the wait instead.
				if up := now.Sub(r.StartedAt); !r.StartedAt.IsZero() && up < waitSettle {
					return fmt.Sprintf("%s has run for %s, waiting %s to see it stays up", rn, up.Round(time.Millisecond), waitSettle)
				}
			case r.State == reconcile.StateExited && r.ExitCode != nil && *r.ExitCode == 0:
			case r.State == reconcile.StateWaiting:
				return fmt.Sprintf("%s is waiting for %s", rn, r.WaitingFor)
			case r.State.Alive() && s.Healthcheck != nil:
				return fmt.Sprintf("%s is %s, waiting for its health check (%s) to pass", rn, r.State, describeCheck(s.Healthcheck))
			case r.ExitCode != nil:
				return fmt.Sprintf("%s is %s (exit code %d), waiting for it to run", rn, r.State, *r.ExitCode)
			default:
				return fmt.Sprintf("%s is %s, waiting for it to run", rn, r.State)
			}
		}
	}
	return ""
}

func describeCheck(hc *spec.Healthcheck) string {
	switch hc.Kind {
	case spec.HealthTCP:
		return fmt.Sprintf("tcp %d", hc.TCPPort)
	case spec.HealthHTTP:
		return "http " + hc.HTTPURL
	}
	return fmt.Sprintf("%s %v", hc.Kind, hc.Test)
}
