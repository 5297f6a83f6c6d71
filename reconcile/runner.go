package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"nucleus/spec"
)

// Runner is the per-project supervisor loop: it loads the files, plans and
// applies in single-flight passes, and triggers a pass on file changes
// (Watcher), exits and health changes (Supervisor.OnChange) and requests
// (Reload, e.g. on SIGHUP). A file that does not load changes nothing: the
// last good configuration keeps being reconciled and the error is recorded
// in the project record until a valid save is applied.
type Runner struct {
	// Load reads the project files (spec.Load with the command's options).
	Load func() (*spec.Project, error)
	// Resolve, when set, completes every project that loaded (after the
	// service selection): images found or pulled (reconcile/images). Its
	// error counts as the files' (LoadErr): the last good configuration
	// keeps running.
	Resolve    func(ctx context.Context, p *spec.Project) (*spec.Project, error)
	Supervisor *Supervisor
	// Watch enables the file watcher.
	Watch        bool
	WatchOptions WatchOptions
	// OnPass is told about every pass (logging, progress, tests).
	OnPass func(PassResult)

	once    sync.Once
	loop    *Loop
	ready   chan struct{} // closed once Run has started its loop (or failed)
	mu      sync.Mutex
	last    *spec.Project // last configuration that loaded
	lastRes PassResult
	watcher *Watcher
	// selection limits the project to some services (nil: all of them).
	selection []string
	// op serialises passes with the commands of Do (start, stop, restart).
	op sync.Mutex
	// upPending is an explicit up request the next pass serves (see
	// RequestUp); upServices are its services (nil: every selected one).
	upPending  bool
	upServices []string
	// upFlags are the flags of the pending up request; scale and noDeps
	// stay from one up to the next (see SetUpFlags).
	upFlags UpFlags
	scale   map[string]int
	noDeps  bool
}

// PassResult is the outcome of one pass.
type PassResult struct {
	Steps []Step
	// Changes counts the steps that changed something: all but retries
	// of waiting replicas (Step.Waiting) that still wait.
	Changes  int
	Digest   string // content digest of the files the pass read
	LoadErr  error  // the files did not load; the last good configuration was used
	ApplyErr error
	Duration time.Duration
}

// HistoryLen is how many applies the project record keeps.
const HistoryLen = 5

// ApplyRecord is one apply in the project record's history.
type ApplyRecord struct {
	Digest   string        `json:"digest"`
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration"`
	Steps    int           `json:"steps"`
	Error    string        `json:"error,omitempty"`
}

// Run adopts what runs, applies the files, and keeps reconciling until ctx
// ends. Sandboxes keep running when it returns. The first load must
// succeed: there is no last good configuration to fall back to.
func (r *Runner) Run(ctx context.Context) error {
	sv := r.Supervisor
	r.init()
	p, err := r.load(ctx)
	if err != nil {
		close(r.ready)
		return err
	}
	r.mu.Lock()
	r.last = p
	r.mu.Unlock()
	if err := sv.Adopt(ctx); err != nil {
		slog.Warn("adopt sandboxes", "project", sv.Project, "err", err)
	}
	if err := sv.RestoreNetworks(ctx); err != nil {
		slog.Warn("restore networks", "project", sv.Project, "err", err)
	}
	sv.OnChange = r.loop.Mark
	defer sv.Close()
	if r.Watch {
		w, err := NewWatcher(p.Dir, p.WatchFiles, r.WatchOptions)
		if err != nil {
			close(r.ready)
			return err
		}
		r.watcher = w
		defer w.Close()
		r.loop.MarkOn(ctx, w.C(), 0)
	}
	close(r.ready)
	r.loop.Mark()
	r.loop.Run(ctx)
	return nil
}

func (r *Runner) init() {
	r.once.Do(func() {
		r.loop = NewLoop(r.pass)
		r.ready = make(chan struct{})
	})
}

// Reload asks for a pass (SIGHUP, a CLI request).
func (r *Runner) Reload() {
	r.init()
	r.loop.Mark()
}

// Sync asks for a pass and waits until one that started afterwards is done.
func (r *Runner) Sync(ctx context.Context) error {
	r.init()
	select {
	case <-r.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.loop.MarkAndWait(ctx)
}

// load reads the files, applies the service selection and resolves.
func (r *Runner) load(ctx context.Context) (*spec.Project, error) {
	p, err := r.Load()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	sel := r.selection
	r.mu.Unlock()
	r.mu.Lock()
	scale, noDeps := r.scale, r.noDeps
	r.mu.Unlock()
	if noDeps {
		p, err = SelectOnly(p, sel)
	} else {
		p, err = SelectServices(p, sel)
	}
	if err != nil {
		return p, err
	}
	if p = applyScale(p, scale); r.Resolve == nil {
		return p, nil
	}
	return r.Resolve(ctx, p)
}

// Select limits the project to services and their dependencies; called
// again it widens the selection (`up a` then `up b` runs a and b). No
// services selects the whole project. The next pass applies it.
func (r *Runner) Select(services []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(services) == 0 {
		r.selection = nil
		return
	}
	if r.selection == nil && r.last != nil {
		return // the whole project is selected already
	}
	for _, s := range services {
		if !slices.Contains(r.selection, s) {
			r.selection = append(r.selection, s)
		}
	}
}

// RequestUp marks the next pass as serving an explicit `nucleus up` of
// services (none: every selected service): replicas of those services and
// their dependencies that do not run are started, whatever their restart
// policy (Observed.Up). Passes of the file watcher, SIGHUP and the restart
// policy carry no such request.
func (r *Runner) RequestUp(services []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.upPending {
		r.upPending, r.upServices = true, slices.Clone(services)
		if r.upServices == nil {
			r.upServices = []string{}
		}
		return
	}
	if len(services) == 0 || len(r.upServices) == 0 {
		r.upServices = []string{}
		return
	}
	for _, s := range services {
		if !slices.Contains(r.upServices, s) {
			r.upServices = append(r.upServices, s)
		}
	}
}

// Up serves an explicit `nucleus up`: it asks for a pass that starts the
// services' replicas that do not run, and returns its outcome.
func (r *Runner) Up(ctx context.Context, services []string) (PassResult, error) {
	r.RequestUp(services)
	return r.Apply(ctx)
}

// takeUp returns the services of a pending up request within desired
// (nil when there is none) and clears it; recreate is up when the request
// asked for --force-recreate.
func (r *Runner) takeUp(desired *spec.Project) (up, recreate []string, asked time.Time) {
	r.mu.Lock()
	pending, services, flags := r.upPending, r.upServices, r.upFlags
	if pending { // flags set for an up not requested yet wait for it
		r.upPending, r.upServices, r.upFlags = false, nil, UpFlags{}
	}
	r.mu.Unlock()
	if !pending {
		return nil, nil, time.Time{}
	}
	names := slices.DeleteFunc(slices.Clone(services), func(s string) bool { return desired.Services[s] == nil })
	if len(services) > 0 && len(names) == 0 {
		return nil, nil, time.Time{}
	}
	sel, err := SelectServices(desired, names)
	if flags.NoDeps && len(names) > 0 {
		sel, err = SelectOnly(desired, names)
	}
	if err != nil {
		return nil, nil, time.Time{}
	}
	up = slices.Sorted(maps.Keys(sel.Services))
	if up == nil {
		up = []string{}
	}
	if flags.ForceRecreate {
		recreate = up
	}
	return up, recreate, flags.Asked
}

// SetUpFlags sets the flags of the next up request, Compose's: the scale
// and --no-deps replace those of the previous up (none: the files'
// replicas, dependencies selected) and hold until the next up;
// --force-recreate restarts what runs unchanged.
func (r *Runner) SetUpFlags(services []string, f UpFlags) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scale = maps.Clone(f.Scale)
	// --no-deps narrows the selection only of a supervisor that has not
	// applied anything yet, or that --no-deps started: elsewhere the
	// dependencies run already and narrowing would remove them.
	r.noDeps = f.NoDeps && len(services) > 0 && (r.last == nil || r.noDeps)
	if f.Asked.IsZero() {
		f.Asked = time.Now()
	}
	r.upFlags = f
}

// Desired is the last configuration that loaded (nil before Run).
func (r *Runner) Desired() *spec.Project {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Apply asks for a pass and returns the outcome of one that started after
// the call (a CLI's `up` to a running supervisor).
func (r *Runner) Apply(ctx context.Context) (PassResult, error) {
	if err := r.Sync(ctx); err != nil {
		return PassResult{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastRes, nil
}

// Do runs f between passes (never during one) with the last good
// configuration, then asks for a pass: start, stop and restart commands.
func (r *Runner) Do(ctx context.Context, f func(ctx context.Context, desired *spec.Project) error) error {
	r.init()
	select {
	case <-r.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.op.Lock()
	desired := r.Desired()
	var err error
	if desired == nil {
		err = fmt.Errorf("%s has no configuration loaded", r)
	} else {
		err = f(ctx, desired)
	}
	r.op.Unlock()
	r.loop.Mark()
	return err
}

// pass is one reconcile pass.
func (r *Runner) pass(ctx context.Context) {
	r.op.Lock()
	defer r.op.Unlock()
	start := time.Now()
	sv := r.Supervisor
	r.mu.Lock()
	last := r.last
	r.mu.Unlock()

	// The files are read once: the digest is of the bytes that were
	// parsed, and it is the watcher's baseline, so a write after the read
	// is a change that triggers another pass.
	var res PassResult
	desired := last
	p, err := r.load(ctx)
	if err != nil {
		set, _ := WatchSet(last.Dir, last.WatchFiles)
		res.Digest = ContentDigest(set) // nothing was parsed: the files as they are
		res.LoadErr = err
		slog.Error("project files do not load; the last good configuration keeps running", "project", sv.Project, "err", err)
	} else {
		res.Digest = ProjectDigest(p)
		desired = p
		r.mu.Lock()
		r.last = p
		r.mu.Unlock()
		if r.watcher != nil {
			newDirs, err := r.watcher.SetFiles(p.Dir, p.WatchFiles, res.Digest)
			if err != nil {
				slog.Warn("watch project files", "project", sv.Project, "err", err)
			}
			// A directory watched from now on raised no event for a write
			// made since the read: look once.
			if newDirs {
				if set, _ := WatchSet(p.Dir, p.WatchFiles); ContentDigest(set) != res.Digest {
					r.loop.Mark()
				}
			}
		}
	}
	up, recreate, asked := r.takeUp(desired)
	res.Steps, res.ApplyErr = sv.passUp(ctx, desired, up, recreate, asked, false)
	res.Changes = sv.changes(res.Steps)
	res.Duration = time.Since(start)
	if res.ApplyErr != nil {
		slog.Error("apply", "project", sv.Project, "err", res.ApplyErr)
	}
	if err := r.record(desired, res); err != nil {
		slog.Warn("record project state", "project", sv.Project, "err", err)
	}
	r.mu.Lock()
	r.lastRes = res
	r.mu.Unlock()
	if r.OnPass != nil {
		r.OnPass(res)
	}
}

// record writes the outcome into the project record, which the
// supervisor holds in memory (no load-then-save).
func (r *Runner) record(p *spec.Project, res PassResult) error {
	return r.Supervisor.updateProject(func(pr *ProjectRecord) {
		pr.Dir, pr.Files = p.Dir, p.Files
		pr.AttemptDigest = res.Digest
		now := time.Now()
		switch {
		case res.LoadErr != nil:
			pr.LastError, pr.LastErrorAt = res.LoadErr.Error(), now
		case res.ApplyErr != nil:
			pr.LastError, pr.LastErrorAt = res.ApplyErr.Error(), now
		default:
			pr.LastError, pr.LastErrorAt = "", time.Time{}
			pr.Digest, pr.AppliedAt = res.Digest, now
		}
		// A pass that only found replicas still waiting did nothing.
		if res.LoadErr != nil || res.Changes > 0 || res.ApplyErr != nil {
			h := ApplyRecord{Digest: res.Digest, At: now, Duration: res.Duration, Steps: res.Changes, Error: pr.LastError}
			pr.History = append([]ApplyRecord{h}, pr.History...)
			if len(pr.History) > HistoryLen {
				pr.History = pr.History[:HistoryLen]
			}
		}
	})
}

// String names the runner's project for logs.
func (r *Runner) String() string { return fmt.Sprintf("project %s", r.Supervisor.Project) }
