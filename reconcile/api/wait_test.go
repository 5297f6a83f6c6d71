package api

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"nucleus/reconcile"
	"nucleus/spec"
)

// When the wait's deadline cuts off a status request (a supervisor slow
// under load), the error still names the replica and condition last seen
// blocking, not just the deadline.
func TestWaitReadyNamesBlockerWhenStatusIsCutOff(t *testing.T) {
	desired := &spec.Project{Name: "p", Services: map[string]*spec.Service{
		"stuck": {Name: "stuck", Replicas: 1, Healthcheck: &spec.Healthcheck{Kind: spec.HealthTCP, TCPPort: 9}},
	}}
	calls := 0
	status := func(ctx context.Context) (*StatusResponse, error) {
		calls++
		if calls == 1 {
			return &StatusResponse{Replicas: []reconcile.ReplicaStatus{{Service: "stuck", Replica: 1, Name: "stuck-1", State: reconcile.StateStarting}}}, nil
		}
		<-ctx.Done() // the slow request outlives the deadline
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := waitReady(ctx, desired, status, func(reconcile.ReplicaStatus) []string { return nil })
	if err == nil || !strings.Contains(err.Error(), "stuck-1") || !strings.Contains(err.Error(), "health check (tcp 9)") {
		t.Fatalf("err = %v, want it to name stuck-1 and its health check", err)
	}
}

// A replica that will never run fails the wait at once, naming the
// replica, its exit code and its last log lines (issue 11, defect 3);
// one in back-off, or a one-shot that exited 0, does not.
func TestWaitReadyFailsAtOnceForReplicaThatWillNotRun(t *testing.T) {
	code := func(c int) *int { return &c }
	for _, tc := range []struct {
		name    string
		restart spec.RestartPolicy
		rep     reconcile.ReplicaStatus
		want    []string // "" entries: the wait must time out instead
	}{
		{"exited, restart no", spec.RestartPolicy{Policy: spec.RestartNo},
			reconcile.ReplicaStatus{State: reconcile.StateExited, ExitCode: code(3)},
			[]string{"job-1 exited (exit code 3)", "restart: no", "boom"}},
		{"on-failure exhausted", spec.RestartPolicy{Policy: spec.RestartOnFailure, MaxRetries: 2},
			reconcile.ReplicaStatus{State: reconcile.StateExited, ExitCode: code(1), Restarts: 2},
			[]string{"job-1 exited (exit code 1)", "restart: on-failure:2", "boom"}},
		{"crashloop", spec.RestartPolicy{Policy: spec.RestartAlways},
			reconcile.ReplicaStatus{State: reconcile.StateCrashloop, ExitCode: code(2), Restarts: 7},
			[]string{"job-1 is in crashloop (exit code 2, 7 restarts)", "boom"}},
		{"failed start", spec.RestartPolicy{Policy: spec.RestartNo},
			reconcile.ReplicaStatus{State: reconcile.StateExited, ExitCode: code(127), Error: "exec: no such file"},
			[]string{"job-1 exited (exit code 127, start failed: exec: no such file)"}},
		{"backoff", spec.RestartPolicy{Policy: spec.RestartAlways},
			reconcile.ReplicaStatus{State: reconcile.StateBackoff, ExitCode: code(1)}, nil},
		// Issue 11, defect 10: a failure a retry cannot fix ends the wait
		// at once even while the policy keeps retrying; a transient one
		// (back-off above, or a busy resource here) does not.
		{"port taken, backoff", spec.RestartPolicy{Policy: spec.RestartAlways},
			reconcile.ReplicaStatus{State: reconcile.StateBackoff, ExitCode: code(125), Permanent: reconcile.PermanentPortTaken,
				Error: "attach to network default: host port 127.0.0.1:8080/tcp is already in use: bind: address already in use"},
			[]string{"job-1 failed to start and a retry will not fix it: a published host port is taken by another program", "127.0.0.1:8080/tcp is already in use", "boom"}},
		{"command not found, backoff", spec.RestartPolicy{Policy: spec.RestartOnFailure},
			reconcile.ReplicaStatus{State: reconcile.StateBackoff, ExitCode: code(127), Permanent: reconcile.PermanentNotFound},
			[]string{"job-1 exited and a retry will not fix it: command not found (exit code 127)", "boom"}},
		{"resource busy, backoff", spec.RestartPolicy{Policy: spec.RestartAlways},
			reconcile.ReplicaStatus{State: reconcile.StateBackoff, ExitCode: code(125), Error: "create sandbox: device or resource busy"}, nil},
		{"one-shot done is ready", spec.RestartPolicy{Policy: spec.RestartNo},
			reconcile.ReplicaStatus{State: reconcile.StateExited, ExitCode: code(0)}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desired := &spec.Project{Name: "p", Services: map[string]*spec.Service{
				"job": {Name: "job", Replicas: 1, Restart: tc.restart},
			}}
			rep := tc.rep
			rep.Service, rep.Replica, rep.Name = "job", 1, "job-1"
			status := func(context.Context) (*StatusResponse, error) {
				return &StatusResponse{Replicas: []reconcile.ReplicaStatus{rep}}, nil
			}
			logs := func(r reconcile.ReplicaStatus) []string { return []string{"starting", "boom"} }
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := waitReady(ctx, desired, status, logs)
			switch {
			case tc.want == nil:
				if err == nil || errors.Is(err, ErrWillNotRun) {
					t.Fatalf("err = %v, want a timeout", err)
				}
			case len(tc.want) == 0:
				if err != nil {
					t.Fatalf("err = %v, want ready", err)
				}
			default:
				if !errors.Is(err, ErrWillNotRun) || time.Since(start) > 100*time.Millisecond {
					t.Fatalf("err = %v after %s, want ErrWillNotRun at once", err, time.Since(start))
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v, want it to contain %q", err, w)
					}
				}
			}
		})
	}
}

// Without a health check a replica counts as ready only after it has
// run for waitSettle: a command that exits at once is seen running for a
// glimpse, and the wait must see its exit instead (issue 11, defect 3).
func TestWaitReadyWithoutHealthcheckNeedsSettle(t *testing.T) {
	desired := &spec.Project{Name: "p", Services: map[string]*spec.Service{"web": {Name: "web", Replicas: 1}}}
	rep := reconcile.ReplicaStatus{Service: "web", Replica: 1, Name: "web-1", State: reconcile.StateRunning}
	now := time.Now()
	rep.StartedAt = now.Add(-waitSettle / 2)
	if got := notReady(desired, []reconcile.ReplicaStatus{rep}, now); !strings.Contains(got, "web-1 has run for") {
		t.Errorf("running for half the settle time: notReady = %q, want it to wait", got)
	}
	rep.StartedAt = now.Add(-waitSettle)
	if got := notReady(desired, []reconcile.ReplicaStatus{rep}, now); got != "" {
		t.Errorf("running for the settle time: notReady = %q, want ready", got)
	}
}

// A replica waiting for a dependency says so while the wait runs, and
// when its dependency will not come (an exited-0 one-shot that
// service_healthy waits for) the wait fails at once naming the dependency
// with its log lines; a dependency that failed for good is named first,
// with the replicas waiting for it (issue 11, examples/db).
func TestWaitReadyWaitingForDependency(t *testing.T) {
	code := func(c int) *int { return &c }
	desired := &spec.Project{Name: "p", Services: map[string]*spec.Service{
		"db":  {Name: "db", Replicas: 1, Healthcheck: &spec.Healthcheck{Kind: spec.HealthTCP, TCPPort: 5432}},
		"app": {Name: "app", Replicas: 1, DependsOn: map[string]spec.Dependency{"db": {Condition: spec.ConditionHealthy}}},
	}}
	db := reconcile.ReplicaStatus{Service: "db", Replica: 1, Name: "db-1", State: reconcile.StateBackoff, ExitCode: code(1)}
	app := reconcile.ReplicaStatus{Service: "app", Replica: 1, Name: "app-1", State: reconcile.StateWaiting,
		WaitingFor: "db-1 to be healthy (now: backoff, exit code 1)"}
	logs := func(r reconcile.ReplicaStatus) []string { return []string{r.Name + " says bye"} }

	if got := notReady(desired, []reconcile.ReplicaStatus{app, db}, time.Now()); got != "app-1 is waiting for db-1 to be healthy (now: backoff, exit code 1)" {
		t.Errorf("notReady = %q", got)
	}
	if err := willNotRunErr(desired, []reconcile.ReplicaStatus{app, db}, logs); err != nil {
		t.Errorf("db in back-off: %v, want the wait to go on", err)
	}

	done := db
	done.State, done.ExitCode = reconcile.StateExited, code(0)
	gaveUp := app
	gaveUp.Permanent = "db-1 exited (exit code 0) and will not be restarted, expected service_healthy"
	err := willNotRunErr(desired, []reconcile.ReplicaStatus{gaveUp, done}, logs)
	if err == nil || err.Error() != "will not run: app-1 will not start: dependency "+gaveUp.Permanent+"; last log lines of db-1:\n  db-1 says bye" {
		t.Errorf("dependency exited 0: %v", err)
	}

	failed := db
	failed.State, failed.ExitCode = reconcile.StateExited, code(3)
	gaveUp.Permanent = "db-1 exited (exit code 3) and will not be restarted, expected service_healthy"
	err = willNotRunErr(desired, []reconcile.ReplicaStatus{gaveUp, failed}, logs)
	if err == nil || err.Error() != "will not run: db-1 exited (exit code 3) and restart: no does not start it again; app-1 waits for it; last log lines of db-1:\n  db-1 says bye" {
		t.Errorf("dependency exited 3: %v", err)
	}
}
