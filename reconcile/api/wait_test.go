package api

import (
	"context"
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
	err := waitReady(ctx, desired, status)
	if err == nil || !strings.Contains(err.Error(), "stuck-1") || !strings.Contains(err.Error(), "health check (tcp 9)") {
		t.Fatalf("err = %v, want it to name stuck-1 and its health check", err)
	}
}
