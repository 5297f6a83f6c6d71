package api

import (
	"context"
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
	for {
		st, err := Status(ctx, root, desired.Name, nil)
		blocked := ""
		if err != nil {
			blocked = err.Error()
		} else {
			blocked = notReady(desired, st.Replicas)
		}
		if blocked == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %s", blocked)
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
