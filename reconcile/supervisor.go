package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"nucleus/spec"
)

// Supervisor executes plans for one project: it runs the steps batch by
// batch (dependency levels, bounded parallelism), defers a replica whose
// depends_on conditions do not hold yet (it never waits for them inside a
// pass), monitors exits and health, and mirrors every replica into the
// state store so `nucleus plan`, `ps` and a restarted supervisor see the
// same truth. It decides nothing itself: Plan does.
type Supervisor struct {
	Project  string
	Store    *Store
	Runtime  Runtime
	Networks Networks
	// Health runs health checks; nil means checks are not run and
	// service_healthy is satisfied once a dependency has started.
	Health HealthChecker
	// Parallel bounds how many independent steps (and replicas) run at once.
	Parallel int
	Backoff  Backoff
	// OnChange is called when a replica exits, changes health, or its
	// back-off expires: the owner marks the project dirty (Loop.Mark), so
	// restarts happen and replicas waiting for their dependencies start.
	OnChange func()
	// Now is the clock (tests inject one).
	Now func() time.Time
	// StopTimeout, when not nil, replaces every service's stop_grace_period
	// (`nucleus down --timeout`).
	StopTimeout *time.Duration
	// OnStep is told when a step starts (err nil, done false) and when it
	// has finished: progress for the foreground `nucleus up`.
	OnStep func(st Step, done bool, err error)
	// Events, when set, is told every record write (nucleus events).
	Events *EventHub

	hurry  atomic.Bool // Hurry was called: stops no longer wait for grace
	passed bool        // a pass has run (the next is not the supervisor's first)

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every replica state change
	replicas map[Ident]*replica
	timers   map[*time.Timer]bool // pending wake-ups (removed when they fire)
	closed   bool

	// The observed state (journal.go): every replica record and the
	// project record as this supervisor knows them, read from the store
	// once. unsaved: a write failed (a full disk), saveUnsaved and the
	// health probe write it again; stamps: what the last write left on
	// disk; writing: one writer at a time per record.
	loadMu         sync.Mutex
	loaded         bool
	records        map[Ident]*SandboxRecord
	project        *ProjectRecord
	unsaved        map[Ident]bool
	stamps         map[Ident]os.FileInfo
	writing        map[Ident]*sync.Mutex
	projectWriting sync.Mutex
}

// replica is the supervisor's live handle on one sandbox replica.
type replica struct {
	id       Ident
	sb       Sandbox // nil for a record without a live sandbox (exited before we came)
	rec      *SandboxRecord
	stopping bool          // a deliberate stop: its exit is not a crash
	done     chan struct{} // closed when the workload has exited
	cancel   context.CancelFunc
}

func (sv *Supervisor) init() {
	if sv.replicas == nil {
		sv.replicas = map[Ident]*replica{}
		sv.timers = map[*time.Timer]bool{}
		sv.changed = make(chan struct{})
	}
	if sv.records == nil {
		sv.records = map[Ident]*SandboxRecord{}
		sv.unsaved = map[Ident]bool{}
		sv.stamps = map[Ident]os.FileInfo{}
		sv.writing = map[Ident]*sync.Mutex{}
	}
}

func (sv *Supervisor) now() time.Time {
	if sv.Now != nil {
		return sv.Now()
	}
	return time.Now()
}

func (sv *Supervisor) parallel() int { return max(sv.Parallel, 1) }

// broadcastLocked wakes everybody waiting for a state change; sv.mu is held.
func (sv *Supervisor) broadcastLocked() {
	close(sv.changed)
	sv.changed = make(chan struct{})
}

func (sv *Supervisor) notify() {
	if sv.OnChange != nil {
		sv.OnChange()
	}
}

// wakeAt calls OnChange at t, so a replica in back-off is planned again.
func (sv *Supervisor) wakeAt(t time.Time) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.init()
	if sv.closed {
		return
	}
	var tm *time.Timer
	// The callback takes sv.mu, so it sees tm assigned and in the map.
	tm = time.AfterFunc(max(t.Sub(sv.now()), 0), func() {
		sv.mu.Lock()
		delete(sv.timers, tm)
		closed := sv.closed
		sv.mu.Unlock()
		if !closed {
			sv.notify()
		}
	})
	sv.timers[tm] = true
}

// ident is the identity of replica n of service in this project.
func (sv *Supervisor) ident(service string, n int) Ident {
	return Ident{Project: sv.Project, Service: service, Index: n}
}

// Adopt re-attaches to the sandboxes recorded by an earlier supervisor that
// are still alive (same PID), and starts monitoring them. Dead records are
// left to the next pass, whose plan starts or removes them. Sandboxes of
// the project that no record names (a record lost or set aside as corrupt)
// cannot be adopted: they are removed, so the plan can start them afresh.
func (sv *Supervisor) Adopt(ctx context.Context) error {
	if err := sv.ensureLoaded(); err != nil {
		return err
	}
	sv.mu.Lock()
	recs := slices.SortedFunc(maps.Values(sv.records), func(a, b *SandboxRecord) int { return byName(a.Ident(), b.Ident()) })
	sv.mu.Unlock()
	var errs []error
	recorded := map[string]bool{}
	for _, rec := range recs {
		recorded[rec.ID] = true
	}
	removed, err := sv.Runtime.RemoveProjectSandboxes(ctx, sv.Project, func(id string) bool { return recorded[id] })
	if len(removed) > 0 {
		slog.Warn("removed sandboxes of the project that no state record named", "project", sv.Project, "ids", removed)
	}
	if err != nil {
		errs = append(errs, err)
	}
	for _, rec := range recs {
		if !rec.Alive() {
			if rec.BootID == BootID() && !rec.State.Alive() && rec.State != StateWaiting {
				// Exited in this boot: remembered for service_completed_successfully.
				done := make(chan struct{})
				close(done)
				sv.mu.Lock()
				sv.init()
				sv.replicas[rec.Ident()] = &replica{id: rec.Ident(), rec: rec, done: done}
				sv.mu.Unlock()
			}
			continue
		}
		sb, err := sv.Runtime.Adopt(ctx, rec)
		if err != nil {
			errs = append(errs, fmt.Errorf("adopt %s: %w", rec, err))
			continue
		}
		if rec.State.Alive() {
			sv.track(&replica{id: rec.Ident(), sb: sb, rec: rec})
		}
	}
	return errors.Join(errs...)
}

// RestoreNetworks ensures every recorded network again, as it was applied.
// Parts of a network live in the supervisor that made it (the resolver;
// slirp4netns and pasta exit with it): a supervisor that adopts sandboxes
// after another was killed must bring them back, and the plan has no step
// for a network whose files did not change. Call it after Adopt.
func (sv *Supervisor) RestoreNetworks(ctx context.Context) error {
	if err := sv.ensureLoaded(); err != nil {
		return err
	}
	sv.mu.Lock()
	var nets []NetworkState
	if sv.project != nil {
		nets = slices.Clone(sv.project.Networks)
	}
	sv.mu.Unlock()
	var errs []error
	for _, n := range nets {
		if n.Applied == nil {
			continue // the plan recreates it (applied configuration unknown)
		}
		sn := *n.Applied
		sn.Name = n.Name // not kept in the record's copy
		if _, err := sv.Networks.EnsureNetwork(ctx, sv.Project, &sn); err != nil {
			errs = append(errs, fmt.Errorf("restore network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// track registers a live replica and starts its monitor and health probe.
func (sv *Supervisor) track(r *replica) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	sv.mu.Lock()
	sv.init()
	sv.replicas[r.id] = r
	sv.putLocked(r.rec)
	sv.broadcastLocked()
	sv.mu.Unlock()
	go sv.monitor(r)
	if hc := r.rec.Applied.Healthcheck; hc != nil && sv.Health != nil {
		go sv.probe(ctx, r, hc)
	}
}

// Pass is one reconcile pass: observe, plan, apply. It returns the plan.
func (sv *Supervisor) Pass(ctx context.Context, desired *spec.Project) ([]Step, error) {
	return sv.PassUp(ctx, desired, nil)
}

// PassUp is a pass that serves an explicit `nucleus up` of the services
// named in up (Observed.Up): their replicas that do not run start again.
func (sv *Supervisor) PassUp(ctx context.Context, desired *spec.Project, up []string) ([]Step, error) {
	return sv.passUp(ctx, desired, up, nil, time.Time{}, false)
}

// passUp is PassUp whose running replicas of the services in recreate
// restart whatever changed (up --force-recreate); down marks the pass of
// Down (Observed.Down).
func (sv *Supervisor) passUp(ctx context.Context, desired *spec.Project, up, recreate []string, asked time.Time, down bool) ([]Step, error) {
	// The records are read once; from then on the supervisor's memory is
	// what it observes. Records a full disk kept from being written, or
	// that changed on disk behind its back, are written again; still
	// failing, they do not stop the pass (down must work on a full disk).
	if err := sv.ensureLoaded(); err != nil {
		return nil, fmt.Errorf("observe project %s: %w", sv.Project, err)
	}
	sv.saveUnsaved()
	sv.recordAgain()
	obs := sv.observe()
	sv.mu.Lock()
	obs.SupervisorStart = !sv.passed
	sv.passed = true
	sv.mu.Unlock()
	obs.Up, obs.Recreate, obs.RecreateBefore, obs.Down = up, recreate, asked, down
	steps := Plan(desired, obs)
	return steps, sv.Apply(ctx, desired, steps)
}

// changes counts the executed steps that changed something: a retry of
// waiting replicas counts only when one of them no longer waits.
func (sv *Supervisor) changes(steps []Step) int {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.init()
	n := 0
	for _, st := range steps {
		if !st.Waiting || slices.ContainsFunc(st.Replicas, func(i int) bool {
			rec := sv.records[sv.ident(st.Service, i)]
			return rec == nil || rec.State != StateWaiting
		}) {
			n++
		}
	}
	return n
}

// Current returns recs with the record of every replica whose latest state
// a failed write (a full disk) kept from the disk replaced by this
// supervisor's copy, so that ps and up --wait show what is true.
func (sv *Supervisor) Current(recs []*SandboxRecord) []*SandboxRecord {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.init()
	out := slices.Clone(recs)
	for i, rec := range out {
		if mem := sv.records[rec.Ident()]; mem != nil && sv.unsaved[rec.Ident()] && mem.ID == rec.ID {
			out[i] = copyRecord(mem)
		}
	}
	return out
}

// saveUnsaved writes the records that a failed write left behind their
// state (not those of replicas being stopped: their stop removes them).
func (sv *Supervisor) saveUnsaved() {
	sv.mu.Lock()
	sv.init()
	var ids []Ident
	for id := range sv.unsaved {
		if r := sv.replicas[id]; r == nil || !r.stopping {
			ids = append(ids, id)
		}
	}
	sv.mu.Unlock()
	slices.SortFunc(ids, byName)
	for _, id := range ids {
		logStepError("record state of "+id.String(), sv.persist(id))
	}
}

// Down stops and removes everything of the project, in reverse dependency
// order, then its networks and records. It works from the records and what
// this supervisor tracks, so it needs neither the files nor a supervisor
// that started the sandboxes; then sandboxes of the project that no record
// names (a record lost or set aside) are found by the runtime's own records
// and removed too. It fails, naming what is left, unless nothing is.
func (sv *Supervisor) Down(ctx context.Context) error {
	empty := &spec.Project{Name: sv.Project}
	_, perr := sv.passUp(ctx, empty, nil, nil, time.Time{}, true)
	removed, rerr := sv.Runtime.RemoveProjectSandboxes(ctx, sv.Project, nil)
	if len(removed) > 0 {
		slog.Warn("removed sandboxes of the project that no state record named", "project", sv.Project, "ids", removed)
	}
	if err := errors.Join(perr, rerr); err != nil {
		return err
	}
	if err := sv.Networks.RemoveProject(ctx, sv.Project); err != nil {
		return fmt.Errorf("remove networks of %s: %w", sv.Project, err)
	}
	// Replicas whose record was lost kept theirs too.
	if err := sv.Runtime.Forget(ctx, sv.Project, ""); err != nil {
		return fmt.Errorf("remove what the replicas of %s kept: %w", sv.Project, err)
	}
	if err := sv.Store.RemoveProject(sv.Project); err != nil {
		return err
	}
	sv.forget()
	return nil
}

// Close stops monitoring (sandboxes keep running) and pending wake-ups.
func (sv *Supervisor) Close() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.closed = true
	for t := range sv.timers {
		t.Stop()
	}
	for _, r := range sv.replicas {
		if r.cancel != nil {
			r.cancel()
		}
	}
}

// Apply executes an ordered plan. Batches run one after another; the steps
// of a batch run in parallel (at most Parallel at once). A step whose
// service depends on a failed one is skipped; independent ones go on.
func (sv *Supervisor) Apply(ctx context.Context, desired *spec.Project, steps []Step) error {
	sv.mu.Lock()
	sv.init()
	sv.mu.Unlock()
	var (
		mu     sync.Mutex
		errs   []error
		failed = map[string]bool{}
	)
	fail := func(st Step, err error) {
		mu.Lock()
		defer mu.Unlock()
		if st.Service != "" {
			failed[st.Service] = true
		}
		errs = append(errs, stepError(st, err))
	}
	for _, batch := range Batches(steps) {
		var g errgroup.Group // errors are collected per step by fail
		g.SetLimit(sv.parallel())
		for _, st := range batch {
			mu.Lock()
			dep := failedDependency(desired, st.Service, failed)
			mu.Unlock()
			if dep != "" {
				fail(st, fmt.Errorf("skipped: dependency %s failed", dep))
				continue
			}
			g.Go(func() error {
				if err := ctx.Err(); err != nil { // cancelled while waiting for a slot
					fail(st, err)
					return nil
				}
				sv.stepEvent(st, false, nil)
				err := sv.step(ctx, desired, st)
				sv.stepEvent(st, true, err)
				// A replica waiting for its dependencies is not a failure:
				// its dependents wait for it in turn.
				if err := WithoutWaiting(err); err != nil {
					fail(st, err)
				}
				return nil
			})
		}
		g.Wait()
	}
	return errors.Join(errs...)
}

func failedDependency(desired *spec.Project, service string, failed map[string]bool) string {
	s := desired.Services[service]
	if s == nil {
		return ""
	}
	for _, d := range slices.Sorted(maps.Keys(s.DependsOn)) {
		if failed[d] && s.DependsOn[d].IsRequired() {
			return d
		}
	}
	return ""
}

// step executes one step.
func (sv *Supervisor) step(ctx context.Context, desired *spec.Project, st Step) error {
	switch st.Action {
	case ActionCreateNetwork, ActionUpdateNetwork:
		return sv.ensureNetwork(ctx, desired.Networks[st.Network])
	case ActionRecreateNetwork:
		if err := sv.Networks.RemoveNetwork(ctx, sv.Project, st.Network); err != nil {
			return err
		}
		return sv.ensureNetwork(ctx, desired.Networks[st.Network])
	case ActionRemoveNetwork:
		if err := sv.Networks.RemoveNetwork(ctx, sv.Project, st.Network); err != nil {
			return err
		}
		return sv.recordNetwork(st.Network, nil)
	case ActionRemove:
		return sv.eachReplica(st, func(n int) error { return sv.removeReplica(ctx, st.Service, n) })
	case ActionScale:
		if st.To < st.From {
			return sv.eachReplica(st, func(n int) error { return sv.removeReplica(ctx, st.Service, n) })
		}
		return sv.eachReplica(st, func(n int) error { return sv.startReplica(ctx, desired, st.Service, n, false) })
	case ActionStart:
		if st.NotBefore.After(sv.now()) {
			sv.wakeAt(st.NotBefore) // back-off: try again then, without blocking this pass
			return nil
		}
		return sv.eachReplica(st, func(n int) error { return sv.startReplica(ctx, desired, st.Service, n, !st.Fresh) })
	case ActionRestart:
		return sv.eachReplica(st, func(n int) error {
			if err := sv.stopReplica(ctx, st.Service, n); err != nil {
				return err
			}
			return sv.startReplica(ctx, desired, st.Service, n, false)
		})
	case ActionUpdate:
		return sv.eachReplica(st, func(n int) error { return sv.updateReplica(ctx, desired.Services[st.Service], n) })
	case ActionReattach:
		return sv.eachReplica(st, func(n int) error { return sv.reattach(ctx, desired.Services[st.Service], n, st.Network) })
	}
	return fmt.Errorf("unknown action %q", st.Action)
}

// eachReplica runs f for the step's replicas, Parallel at a time.
func (sv *Supervisor) eachReplica(st Step, f func(n int) error) error {
	if len(st.Replicas) == 1 {
		return f(st.Replicas[0])
	}
	var (
		g    errgroup.Group
		mu   sync.Mutex
		errs []error // all of them, not only errgroup's first
	)
	g.SetLimit(sv.parallel())
	for _, n := range st.Replicas {
		g.Go(func() error {
			if err := f(n); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("replica %d: %w", n, err))
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	return errors.Join(errs...)
}

func (sv *Supervisor) ensureNetwork(ctx context.Context, n *spec.Network) error {
	if n == nil {
		return errors.New("network not in the project")
	}
	subnet, err := sv.Networks.EnsureNetwork(ctx, sv.Project, n)
	if err != nil {
		return err
	}
	return sv.recordNetwork(n.Name, &NetworkState{Name: n.Name, Subnet: subnet, Applied: n})
}

// recordNetwork sets (or with nil removes) a network in the project record.
func (sv *Supervisor) recordNetwork(name string, ns *NetworkState) error {
	return sv.updateProject(func(pr *ProjectRecord) {
		pr.Networks = slices.DeleteFunc(pr.Networks, func(n NetworkState) bool { return n.Name == name })
		if ns != nil {
			pr.Networks = append(pr.Networks, *ns)
			slices.SortFunc(pr.Networks, func(a, b NetworkState) int { return strings.Compare(a.Name, b.Name) })
		}
	})
}

func logStepError(what string, err error) {
	if err != nil {
		slog.Warn(what, "err", err)
	}
}

// stepError is err of step st. A start whose cause already quotes the
// error (the last start failed the same way, notRunningCause) is said once.
func stepError(st Step, err error) error {
	if s := st.String(); strings.Contains(s, err.Error()) {
		return &saidError{s, err}
	}
	return fmt.Errorf("%s: %w", st, err)
}

// saidError is an error whose text is its context alone.
type saidError struct {
	text string
	err  error
}

func (e *saidError) Error() string { return e.text }
func (e *saidError) Unwrap() error { return e.err }
