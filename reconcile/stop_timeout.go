package reconcile

import (
	"context"
	"time"
)

type stopTimeoutKey struct{}

// WithStopTimeout makes the stops done under ctx wait d instead of each
// service's stop_grace_period (`nucleus stop -t`).
func WithStopTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, stopTimeoutKey{}, d)
}

// graceFor is grace, overridden by WithStopTimeout (a second Ctrl-C still wins).
func (sv *Supervisor) graceFor(ctx context.Context, applied func() time.Duration) time.Duration {
	if d, ok := ctx.Value(stopTimeoutKey{}).(time.Duration); ok && !sv.hurry.Load() {
		return d
	}
	return applied()
}
