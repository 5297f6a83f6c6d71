package reconcile

import (
	"context"
	"errors"
	"fmt"
)

// RemoveServices serves `nucleus rm`: for each replica of the services
// that does not run and that nothing will start by itself (stopped,
// exited, dead) it removes what the replica keeps — network attachments
// and addresses, writable layer — and marks its record Removed, so ps no
// longer lists it. The record stays: it is what keeps passes from starting
// the replica (a missing one would be started as new); up creates it anew.
// It returns the names removed.
func (sv *Supervisor) RemoveServices(ctx context.Context, services []string) ([]string, error) {
	var removed []string
	var errs []error
	for _, name := range services {
		recs, err := sv.serviceRecords(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rec := range recs {
			if rec.Removed || !removable(rec) {
				continue
			}
			if err := sv.removeStopped(ctx, rec); err != nil {
				errs = append(errs, fmt.Errorf("rm %s: %w", rec.Ident().Name(), err))
				continue
			}
			removed = append(removed, rec.Ident().Name())
		}
	}
	return removed, errors.Join(errs...)
}

// removable: the replica does not run and nothing will start it by itself.
func removable(rec *SandboxRecord) bool {
	switch rec.State {
	case StateStopped, StateExited, StateDead:
		return true
	}
	return false
}

func (sv *Supervisor) removeStopped(ctx context.Context, rec *SandboxRecord) error {
	// What stop does to a sandbox that ended (removed by ID, detached,
	// record dropped); then what a replica not coming back gives up; then
	// the record again, as a tombstone.
	if err := sv.removeReplica(ctx, rec.Service, rec.Replica); err != nil {
		return err
	}
	rec.Removed = true
	return sv.record(rec)
}
