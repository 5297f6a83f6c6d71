package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"nucleus/internal/procstat"
	"nucleus/spec"
)

// startReplica creates, attaches and starts one replica once its
// depends_on conditions hold. It never waits for them: while one does not
// hold, the replica is recorded as waiting (what for, in ps) and a
// *WaitingError is returned; the pass goes on, and the dependency's start,
// health change or exit wakes a later pass that starts it. afterExit says
// the replica is started again after an exit (a restart for the back-off),
// not for a new configuration.
func (sv *Supervisor) startReplica(ctx context.Context, desired *spec.Project, service string, n int, afterExit bool) error {
	s := desired.Services[service]
	if s == nil {
		return fmt.Errorf("service %s is not in the project", service)
	}
	// A leftover record (exited or stale) is cleaned up first; its restart
	// bookkeeping carries over. A waiting one has no sandbox: it stays
	// until replaced, so ps never misses the replica meanwhile.
	var restart RestartState
	old := sv.recordOf(sv.ident(service, n))
	if old != nil {
		restart = old.Restart
	}
	if old != nil && old.State != StateWaiting {
		if err := sv.stopReplica(ctx, service, n); err != nil {
			return err
		}
	}
	switch {
	case old != nil && old.State == StateWaiting:
		// Decided when it began to wait (a restart counted, or a fresh start).
	case afterExit && old != nil:
		restart = restart.Started(sv.now())
	default:
		restart = RestartState{Total: restart.Total}
	}
	if blocked := sv.dependencies(desired, s); blocked != nil {
		sv.recordWaiting(service, s, n, restart, blocked)
		if blocked.failed != "" {
			return fmt.Errorf("dependency %s", blocked.failed)
		}
		return &WaitingError{Replica: sv.ident(service, n).Name(), For: blocked.want}
	}

	if err := sv.launch(ctx, desired, service, n, restart); err != nil {
		if ctx.Err() == nil {
			sv.recordFailedStart(service, s, n, restart, err)
		}
		return err
	}
	return nil
}

// launch creates, attaches and starts the sandbox of one replica and
// records it; on an error nothing of it is left running.
func (sv *Supervisor) launch(ctx context.Context, desired *spec.Project, service string, n int, restart RestartState) error {
	s := desired.Services[service]
	id := sv.ident(service, n)
	// Intent first: the record names the sandbox before any of it exists,
	// so whatever a supervisor killed from here on leaves is found by ID.
	intent := &SandboxRecord{
		Project: sv.Project, Service: service, Replica: n, ID: id.ID(),
		Hash: serviceHash(s), Applied: s, State: StateStarting, Restart: restart, Creating: true,
	}
	if err := sv.record(intent); err != nil {
		return fmt.Errorf("record intent to create: %w", err)
	}
	sb, atts, err := sv.Runtime.Launch(ctx, LaunchRequest{Replica: id, Service: s, Volumes: desired.Volumes, Networks: sv.Networks})
	if err != nil {
		return err
	}
	// Launch undid its own steps; what fails from here on undoes the lot.
	undo := func(cause error) error {
		for _, a := range atts {
			logStepError("detach after failed start", sv.Networks.Detach(context.WithoutCancel(ctx), sv.Project, a.Network, service, n))
		}
		logStepError("stop after failed start", sb.Stop(context.WithoutCancel(ctx), s.StopSignal.Number(), 0))
		return cause
	}
	initStart, err := procstat.StartTime(sb.PID())
	if err != nil {
		return undo(err)
	}
	state := StateRunning
	if s.Healthcheck != nil && sv.Health != nil {
		state = StateStarting
	}
	rec := &SandboxRecord{
		Project: sv.Project, Service: service, Replica: n, ID: id.ID(),
		InitPID: sb.PID(), InitStart: initStart, Attachments: atts,
		Hash: serviceHash(s), Applied: s, State: state, Restart: restart, StartedAt: sv.now(),
	}
	if err := sv.record(rec); err != nil {
		sv.mu.Lock()
		sv.putLocked(intent) // what the disk has, and what undo leaves
		sv.mu.Unlock()
		return undo(err)
	}
	sv.track(&replica{id: id, sb: sb, rec: rec})
	return nil
}

// stopReplica stops one replica (or cleans up after a dead one), detaches
// it from its networks and removes its record.
func (sv *Supervisor) stopReplica(ctx context.Context, service string, n int) error {
	key := sv.ident(service, n)
	sv.mu.Lock()
	sv.init()
	r := sv.replicas[key]
	if r != nil {
		r.stopping = true
	}
	rec := copyRecord(sv.records[key])
	sv.mu.Unlock()

	switch {
	case r != nil && r.sb != nil:
		if r.cancel != nil {
			r.cancel()
		}
		sig, grace := r.rec.Applied.StopSignal.Number(), sv.graceFor(ctx, func() time.Duration { return sv.grace(r.rec.Applied) })
		if err := r.sb.Stop(ctx, sig, grace); err != nil {
			return fmt.Errorf("stop %s: %w", key.Name(), err)
		}
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	case rec != nil && (rec.InitPID != 0 || rec.Creating): // InitPID 0 alone: a failed start, no sandbox
		if err := sv.Runtime.Cleanup(ctx, rec); err != nil {
			return fmt.Errorf("clean up %s: %w", key.Name(), err)
		}
	}
	for _, net := range recordNetworks(rec) {
		if err := sv.Networks.Detach(ctx, sv.Project, net, service, n); err != nil {
			return fmt.Errorf("detach %s from %s: %w", key.Name(), net, err)
		}
	}
	sv.mu.Lock()
	if sv.replicas[key] == r {
		delete(sv.replicas, key)
	}
	delete(sv.records, key)
	sv.broadcastLocked()
	sv.mu.Unlock()
	return sv.persist(key)
}

// recordOf is a copy of the replica's record in memory (nil: none).
func (sv *Supervisor) recordOf(id Ident) *SandboxRecord {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.init()
	return copyRecord(sv.records[id])
}

// removeReplica stops a replica that is not coming back and gives its
// addresses back to its networks.
func (sv *Supervisor) removeReplica(ctx context.Context, service string, n int) error {
	if err := sv.stopReplica(ctx, service, n); err != nil {
		return err
	}
	if err := sv.Networks.Release(ctx, sv.Project, service, n, nil); err != nil {
		return fmt.Errorf("release the addresses of %s: %w", sv.ident(service, n).Name(), err)
	}
	if err := sv.Runtime.Forget(ctx, sv.Project, sv.ident(service, n).Name()); err != nil {
		return fmt.Errorf("remove what %s kept: %w", sv.ident(service, n).Name(), err)
	}
	return nil
}

// recordNetworks are the networks a replica's record may be attached to:
// its recorded attachments, and every network of its service while it was
// still being created (attached, perhaps, but not recorded yet).
func recordNetworks(rec *SandboxRecord) []string {
	if rec == nil {
		return nil
	}
	var nets []string
	for _, a := range rec.Attachments {
		nets = append(nets, a.Network)
	}
	if rec.Creating && rec.Applied != nil {
		nets = append(nets, slices.Collect(maps.Keys(rec.Applied.Networks))...)
	}
	slices.Sort(nets)
	return slices.Compact(nets)
}

// updateReplica applies live fields in place: cgroup limits, then the
// network side (ports, egress, aliases, DNS records). Same PID.
func (sv *Supervisor) updateReplica(ctx context.Context, s *spec.Service, n int) error {
	r := sv.live(s.Name, n)
	if r == nil {
		return fmt.Errorf("%s is not running under this supervisor", sv.ident(s.Name, n).Name())
	}
	if err := r.sb.UpdateResources(s.Resources); err != nil {
		return fmt.Errorf("update resources: %w", err)
	}
	for _, net := range slices.Sorted(maps.Keys(s.Networks)) {
		if err := sv.Networks.Update(ctx, AttachRequest{Project: sv.Project, Network: net, Service: s, Replica: n, PID: r.sb.PID()}); err != nil {
			return fmt.Errorf("update network %s: %w", net, err)
		}
	}
	return sv.setRecord(r, func(rec *SandboxRecord) { rec.Hash, rec.Applied = serviceHash(s), s })
}

// reattach attaches a running replica to a recreated network.
func (sv *Supervisor) reattach(ctx context.Context, s *spec.Service, n int, network string) error {
	r := sv.live(s.Name, n)
	if r == nil {
		return fmt.Errorf("%s is not running under this supervisor", sv.ident(s.Name, n).Name())
	}
	a, err := sv.Networks.Attach(ctx, AttachRequest{Project: sv.Project, Network: network, Service: s, Replica: n, PID: r.sb.PID()})
	if err != nil {
		return err
	}
	a.Network = network
	return sv.setRecord(r, func(rec *SandboxRecord) {
		rec.Attachments = slices.DeleteFunc(rec.Attachments, func(x Attachment) bool { return x.Network == network })
		rec.Attachments = append(rec.Attachments, a)
	})
}

func (sv *Supervisor) live(service string, n int) *replica {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.init()
	r := sv.replicas[sv.ident(service, n)]
	if r == nil || r.sb == nil {
		return nil
	}
	return r
}

// setRecord changes a replica's record, saves it and wakes waiters.
func (sv *Supervisor) setRecord(r *replica, f func(*SandboxRecord)) error {
	sv.mu.Lock()
	f(r.rec)
	sv.broadcastLocked()
	sv.mu.Unlock()
	return sv.persist(r.id)
}

// monitor waits for the workload to exit. A deliberate stop ends quietly;
// any other exit is recorded with its back-off and reported via OnChange,
// so the next pass applies the restart policy.
func (sv *Supervisor) monitor(r *replica) {
	ex, err := r.sb.Wait()
	sv.mu.Lock()
	defer close(r.done)
	if r.stopping || sv.closed {
		// A deliberate stop, or a supervisor going away: not a crash.
		sv.broadcastLocked()
		sv.mu.Unlock()
		return
	}
	if err != nil {
		ex.Code = -1
	}
	now := sv.now()
	rec := r.rec
	rec.ExitCode, rec.ExitedAt, rec.OOMKills = ex.Code, now, ex.OOMKills
	rec.Permanent = permanentExit(ex.Code)
	logOOM(rec, ex)
	rec.Restart = sv.Backoff.Exited(rec.Restart, now)
	restart, _ := ShouldRestart(rec.Applied.Restart, ExitInfo{Code: ex.Code, Restarts: rec.Restart.Restarts})
	rec.State = StateExited
	if restart {
		rec.State, _ = sv.Backoff.Waiting(rec.Restart)
	}
	if r.cancel != nil {
		r.cancel()
	}
	sv.broadcastLocked()
	sv.mu.Unlock()
	logStepError("record exit of "+rec.String(), sv.persist(r.id))
	sv.notify()
	if restart {
		sv.wakeAt(rec.Restart.NextAttempt)
	}
}

// probe runs the health check: at once, then every interval (every
// start_interval, when set, during the start period until the first
// success, as Compose does). Failures in the start period do not count;
// retries consecutive failures make the replica unhealthy, one success
// makes it healthy.
func (sv *Supervisor) probe(ctx context.Context, r *replica, hc *spec.Healthcheck) {
	interval := orDefault(hc.Interval.D(), 30*time.Second)
	timeout := orDefault(hc.Timeout.D(), 30*time.Second)
	retries := max(hc.Retries, 1)
	started := sv.now()
	failures := 0
	succeeded := false
	for {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := sv.Health.Check(cctx, r.sb, hc)
		cancel()
		if ctx.Err() != nil {
			return
		}
		var next RunState // "" keeps the current state
		switch {
		case err == nil:
			failures, next, succeeded = 0, StateHealthy, true
		case sv.now().Sub(started) < hc.StartPeriod.D():
		default:
			failures++
			if failures >= retries {
				next = StateUnhealthy
			}
		}
		sv.mu.Lock()
		changed := next != "" && r.rec.State != next && r.rec.State.Alive() && !r.stopping
		if changed {
			r.rec.State = next
			sv.broadcastLocked()
		}
		retry := !changed && sv.unsaved[r.id] && !r.stopping
		sv.mu.Unlock()
		if changed {
			logStepError("record health of "+r.id.String(), sv.persist(r.id))
		} else if retry {
			_ = sv.persist(r.id) // failed and logged before: no warning per interval
		}
		if changed {
			// Unhealthy: the restart policy may act; healthy: dependents
			// waiting for service_healthy may start.
			sv.notify()
		}
		wait := interval
		if hc.StartInterval > 0 && !succeeded && sv.now().Sub(started) < hc.StartPeriod.D() {
			wait = hc.StartInterval.D()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// logOOM says when the memory limit killed a process of the replica: the
// main one (its exit) or another one (a child, whose death the main
// process may have survived for a while).
func logOOM(rec *SandboxRecord, ex ExitStatus) {
	if ex.OOMKills == 0 {
		return
	}
	limit := "unlimited"
	if rec.Applied != nil && rec.Applied.Resources.Memory > 0 {
		limit = rec.Applied.Resources.Memory.String()
	}
	what := "a process was killed"
	if ex.OOMKilled {
		what = "killed"
	}
	slog.Warn(rec.Ident().Name()+" exited: "+what+": out of memory (limit "+limit+")",
		"project", rec.Project, "exit_code", ex.Code, "oom_kills", ex.OOMKills)
}
