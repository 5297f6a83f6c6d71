package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"nucleus/spec"
)

// Killer is implemented by sandboxes that can kill their workload at once
// (Hurry: a second Ctrl-C).
type Killer interface {
	Kill() error
}

func (sv *Supervisor) stepEvent(st Step, done bool, err error) {
	if sv.OnStep != nil {
		sv.OnStep(st, done, err)
	}
}

// grace is how long a stop waits for the workload before killing it.
func (sv *Supervisor) grace(s *spec.Service) time.Duration {
	if sv.hurry.Load() {
		return 0
	}
	if sv.StopTimeout != nil {
		return *sv.StopTimeout
	}
	return s.StopGracePeriod.D()
}

// Hurry makes every stop from now on kill at once, and kills the
// workloads of the stops in progress (the second Ctrl-C).
func (sv *Supervisor) Hurry() {
	sv.hurry.Store(true)
	sv.mu.Lock()
	sv.init()
	var kill []Killer
	for _, r := range sv.replicas {
		if k, ok := r.sb.(Killer); ok && r.stopping {
			kill = append(kill, k)
		}
	}
	sv.mu.Unlock()
	for _, k := range kill {
		logStepError("kill workload", k.Kill())
	}
}

// StopServices stops every replica of the services the way `nucleus stop`
// does: the sandbox is stopped and removed, and a record in state stopped
// remains, which the restart policies respect (no pass starts it again)
// until StartServices.
func (sv *Supervisor) StopServices(ctx context.Context, services []string) error {
	var errs []error
	for _, name := range services {
		recs, err := sv.serviceRecords(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(recs) == 0 {
			errs = append(errs, fmt.Errorf("stop %s: no replica of it is recorded", name))
			continue
		}
		for _, old := range recs {
			if old.State == StateStopped {
				continue
			}
			if err := sv.stopReplica(ctx, name, old.Replica); err != nil {
				errs = append(errs, err)
				continue
			}
			rec := &SandboxRecord{
				Project: sv.Project, Service: name, Replica: old.Replica, ID: old.ID,
				Hash: old.Hash, Applied: old.Applied, State: StateStopped, ManualStop: true,
				Restart: old.Restart, ExitedAt: sv.now(), StartedAt: old.StartedAt,
			}
			errs = append(errs, sv.record(rec))
		}
	}
	return errors.Join(errs...)
}

func (sv *Supervisor) serviceRecords(service string) ([]*SandboxRecord, error) {
	if err := sv.ensureLoaded(); err != nil {
		return nil, err
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var out []*SandboxRecord
	for id, rec := range sv.records {
		if id.Service == service {
			out = append(out, copyRecord(rec))
		}
	}
	slices.SortFunc(out, func(a, b *SandboxRecord) int { return a.Replica - b.Replica })
	return out, nil
}

// StartServices starts the replicas of the services (and of the services
// they depend on) that do not run, in dependency order; a manual stop ends.
func (sv *Supervisor) StartServices(ctx context.Context, desired *spec.Project, services []string) error {
	sel, err := SelectServices(desired, services)
	if err != nil {
		return err
	}
	var errs []error
	for _, level := range Levels(sel) {
		for _, name := range level {
			for n := 1; n <= max(sel.Services[name].Replicas, 1); n++ {
				if sv.live(name, n) != nil {
					continue
				}
				if err := WithoutWaiting(sv.startReplica(ctx, desired, name, n, false)); err != nil {
					errs = append(errs, fmt.Errorf("start %s: %w", sv.ident(name, n).Name(), err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// RestartServices stops and starts every replica of the services with the
// current configuration (dependencies are not touched). Then, as Compose
// does after an explicit restart, the running replicas of services that
// declare depends_on with restart: true on one of them (transitively).
func (sv *Supervisor) RestartServices(ctx context.Context, desired *spec.Project, services []string) error {
	var errs []error
	followers := restartFollowers(desired, services)
	for _, name := range append(slices.Clone(services), followers...) {
		s := desired.Services[name]
		if s == nil {
			errs = append(errs, fmt.Errorf("restart %s: not a service of project %s", name, sv.Project))
			continue
		}
		follower := !slices.Contains(services, name)
		for n := 1; n <= max(s.Replicas, 1); n++ {
			if follower && !sv.alive(sv.ident(name, n)) {
				continue
			}
			if err := sv.stopReplica(ctx, name, n); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := WithoutWaiting(sv.startReplica(ctx, desired, name, n, false)); err != nil {
				errs = append(errs, fmt.Errorf("restart %s: %w", sv.ident(name, n).Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// restartFollowers are the services, in dependency order, that declare
// depends_on with restart: true on one of services or on another
// follower, services themselves left out.
func restartFollowers(desired *spec.Project, services []string) []string {
	restarted := map[string]bool{}
	for _, s := range services {
		restarted[s] = true
	}
	var out []string
	for _, level := range Levels(desired) {
		for _, name := range level {
			if restarted[name] {
				continue
			}
			for dep, d := range desired.Services[name].DependsOn {
				if d.Restart && restarted[dep] {
					restarted[name] = true
					out = append(out, name)
					break
				}
			}
		}
	}
	return out
}

// alive reports whether the replica's sandbox runs.
func (sv *Supervisor) alive(id Ident) bool {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.init()
	r := sv.replicas[id]
	return r != nil && r.rec != nil && r.rec.State.Alive()
}
