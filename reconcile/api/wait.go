package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/spec"
)

// WaitReady waits until every replica of desired's services runs (and is
// healthy when it has a health check; a one-shot that exited 0 and is not
// restarted counts as done). When ctx ends first, the error names the
// replica and the condition that blocked.
func WaitReady(ctx context.Context, root rootdir.Root, desired *spec.Project) error {
	return waitReady(ctx, desired, func(ctx context.Context) (*StatusResponse, error) {
		return Status(ctx, root, desired.Name, nil)
	})
}

// waitReady polls status until desired is ready or ctx ends. A status
// request that fails (a supervisor slow under load, or cut off by the
// deadline itself) is retried; the error then still names what was last
// seen blocking, with the request's error when there was one.
func waitReady(ctx context.Context, desired *spec.Project, status func(context.Context) (*StatusResponse, error)) error {
	lastBlocked := ""
	var lastErr error
	for {
		st, err := status(ctx)
		lastErr = err
		if err == nil {
			lastBlocked = notReady(desired, st.Replicas)
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

// notReady names the first replica that is not ready and why; "" when all are.
func notReady(desired *spec.Project, reps []reconcile.ReplicaStatus) string {
	byName := map[string]reconcile.ReplicaStatus{}
	for _, r := range reps {
		byName[r.Name] = r
	}
	for _, name := range slices.Sorted(maps.Keys(desired.Services)) {
		s := desired.Services[name]
		for n := 1; n <= max(s.Replicas, 1); n++ {
			rn := reconcile.ReplicaName(name, n)
			r, ok := byName[rn]
			if !ok {
				return rn + " has not been started"
			}
			switch {
			case r.State == reconcile.StateHealthy:
			case r.State == reconcile.StateRunning && s.Healthcheck == nil:
			case r.State == reconcile.StateExited && r.ExitCode != nil && *r.ExitCode == 0:
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
