package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/reconcile/api"
)

// Options configure a Daemon.
type Options struct {
	// Dir is the watched tree.
	Dir  string
	Root rootdir.Root
	// Parts are what the projects' supervisors run on (zero: the host's,
	// reconcile/host); tests of the daemon's logic give
	// reconcile/reconciletest's fakes.
	Parts api.Parts
	// NewRunner starts a project's supervisor (default PolicyRunner of
	// Policy and Parts).
	NewRunner RunnerFactory
	// Down takes a project down (default: Parts.Down, through reconcile/api).
	Down func(ctx context.Context, root rootdir.Root, project string) error
	// Watch tunes the debounce of the tree and of every project's files.
	Watch reconcile.WatchOptions
	// Rescan is the safety-net period of a full scan (default 1 min); the
	// watcher normally reports every change long before.
	Rescan time.Duration
	// Policy is what project files may ask for (zero: no host privileges,
	// no host paths outside the project directory).
	Policy Policy
	// Environ is the environment projects are loaded with (default Environ()).
	Environ map[string]string
	// OnPass and OnScan are told about every project pass and tree scan
	// (tests, logging).
	OnPass func(project string, res reconcile.PassResult)
	OnScan func(ScanResult)
}

// ScanResult is the outcome of one scan of the tree.
type ScanResult struct {
	Projects  map[string]string   // name -> directory, as managed after the scan
	Conflicts map[string][]string // name -> directories claiming it
	Guard     string              // non-empty: nothing was pruned, and why
	Err       error
}

// Daemon reconciles every project under a tree. See the package doc.
type Daemon struct {
	opts    Options
	dir     string
	store   *reconcile.Store
	environ map[string]string
	loop    *reconcile.Loop
	ctx     context.Context // the runners' parent, canceled when Run ends

	projects map[string]*project // by name; touched by scan passes only

	reloadAll atomic.Bool // SIGHUP: the next scan asks every runner for a pass

	mu    sync.Mutex
	state *State
}

// New checks the options and returns a daemon; Run starts it.
func New(opts Options) (*Daemon, error) {
	if opts.Dir == "" || opts.Root.Run == "" {
		return nil, errors.New("daemon: Dir and Root are required")
	}
	if opts.NewRunner == nil {
		opts.NewRunner = PolicyRunner(opts.Policy, opts.Parts)
	}
	if opts.Down == nil {
		opts.Down = func(ctx context.Context, root rootdir.Root, project string) error {
			return opts.Parts.Down(ctx, root, project, api.DownOptions{})
		}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if opts.Rescan <= 0 {
		opts.Rescan = time.Minute
	}
	env := opts.Environ
	if env == nil {
		env = Environ()
	}
	d := &Daemon{opts: opts, dir: dir, store: reconcile.NewStore(opts.Root), environ: env, projects: map[string]*project{}}
	d.loop = reconcile.NewLoop(d.scan)
	return d, nil
}

// Run takes the daemon lock, adopts the projects the previous daemon
// managed (their runners adopt the running sandboxes, same PIDs), and
// reconciles the tree until ctx ends. When it returns the sandboxes keep
// running: the next daemon adopts them.
func (d *Daemon) Run(ctx context.Context) error {
	unlock, err := lock(d.opts.Root)
	if err != nil {
		return err
	}
	defer unlock()
	prev, err := LoadState(d.opts.Root)
	if err != nil {
		slog.Warn("previous daemon state unreadable; starting afresh", "err", err)
	}
	pidStart, _ := procstat.StartTime(os.Getpid())
	st := &State{PID: os.Getpid(), PIDStart: pidStart, Watch: d.dir, StartedAt: time.Now(), Projects: map[string]*ProjectState{}}
	if prev != nil {
		// Known projects stay managed (with their commits) until a scan
		// says otherwise, so one removed while the daemon was down is
		// still brought down.
		for name, ps := range prev.Projects {
			if !under(d.dir, ps.Dir) {
				// Watching another tree now: release, do not prune.
				slog.Warn("project outside the watched tree is no longer managed; it keeps running", "project", name, "dir", ps.Dir)
				continue
			}
			ps.Active, ps.Note = false, ""
			st.Projects[name] = ps
			d.projects[name] = &project{name: name, dir: ps.Dir}
		}
	}
	d.mu.Lock()
	d.state = st
	d.saveLocked()
	d.mu.Unlock()

	rctx, cancel := context.WithCancel(context.Background())
	d.ctx = rctx
	defer func() {
		// Stop the runners, not the sandboxes.
		cancel()
		for _, p := range d.projects {
			p.stop()
		}
		d.mu.Lock()
		d.state.Stopped = true
		for _, ps := range d.state.Projects {
			ps.Active = false
		}
		d.saveLocked()
		d.mu.Unlock()
	}()

	tw, err := newTreeWatcher(d.dir, d.opts.Watch)
	if err != nil {
		return fmt.Errorf("watch project tree %s: %w", d.dir, err)
	}
	defer tw.Close()
	d.loop.MarkOn(ctx, tw.C(), d.opts.Rescan)
	slog.Info("daemon watching", "dir", d.dir, "root", d.opts.Root.Run)
	d.loop.Mark()
	d.loop.Run(ctx)
	return nil
}

// Reload rescans the tree and asks every project for a pass (SIGHUP).
func (d *Daemon) Reload() {
	d.reloadAll.Store(true)
	d.loop.Mark()
}

// Sync runs a scan that starts after the call and waits for it (tests,
// `--once`-style callers). Project passes it triggers run on their own.
func (d *Daemon) Sync(ctx context.Context) error { return d.loop.MarkAndWait(ctx) }

func (d *Daemon) kick() { d.loop.Mark() }

// scan is one pass over the tree: find the project directories, name
// them, bring up what is new, bring down what is gone.
func (d *Daemon) scan(ctx context.Context) {
	res := d.scanOnce(ctx)
	if res.Err != nil {
		slog.Error("scan project tree", "dir", d.dir, "err", res.Err)
	}
	if d.opts.OnScan != nil {
		d.opts.OnScan(res)
	}
}

func (d *Daemon) scanOnce(ctx context.Context) ScanResult {
	reload := d.reloadAll.Swap(false)
	dirs, err := Scan(d.dir)
	res := ScanResult{Projects: map[string]string{}, Conflicts: map[string][]string{}, Err: err}

	// Guard: an unreadable or empty tree while projects run is far more
	// likely a failed checkout than "remove everything".
	guard := ""
	switch {
	case err != nil && len(d.projects) > 0:
		guard = "TreeUnreadable: " + err.Error() + "; nothing is pruned"
	case err == nil && len(dirs) == 0 && len(d.projects) > 0:
		guard = fmt.Sprintf("TreeEmpty: %s holds no project while %d are managed; nothing is pruned", d.dir, len(d.projects))
	}
	if guard != "" || err != nil {
		d.mu.Lock()
		if d.state.TreeGuard != guard && guard != "" {
			slog.Warn("project tree guard: keeping every project", "reason", guard)
		}
		d.state.TreeGuard = guard
		d.saveLocked()
		d.mu.Unlock()
		res.Guard = guard
		d.fillManaged(&res)
		return res
	}

	// Name every directory; a project directory keeps its current name
	// while its files do not load and say nothing better.
	claims := map[string][]string{}
	for _, dir := range dirs {
		name, lerr := ResolveName(dir, d.environ)
		if lerr != nil {
			// A broken save must not rename (and so bring down) a project.
			for _, p := range d.projects {
				if p.dir == dir {
					name = p.name
				}
			}
		}
		if name == "" {
			continue
		}
		claims[name] = append(claims[name], dir)
	}
	desired := map[string]string{}
	for name, ds := range claims {
		if len(ds) == 1 {
			desired[name] = ds[0]
			continue
		}
		res.Conflicts[name] = ds
		// Keep a running project where it is; start none of the claimants
		// otherwise (which one wins would be arbitrary).
		if p := d.projects[name]; p != nil && slices.Contains(ds, p.dir) {
			desired[name] = p.dir
		}
	}
	for name, ds := range res.Conflicts {
		slog.Error("project name claimed by several directories", "project", name, "dirs", ds)
	}

	// Down what is gone (or moved to another directory or name).
	for _, name := range slices.Sorted(maps.Keys(d.projects)) {
		p := d.projects[name]
		if dir, ok := desired[name]; ok && dir == p.dir {
			continue
		}
		if err := d.down(ctx, p); err != nil {
			slog.Error("bring project down", "project", name, "err", err)
			res.Err = errors.Join(res.Err, fmt.Errorf("down %s: %w", name, err))
			continue // still managed: the next scan tries again
		}
		delete(d.projects, name)
		d.mu.Lock()
		delete(d.state.Projects, name)
		d.mu.Unlock()
	}

	// Up what is new; restart runners that failed once their files change.
	for _, name := range slices.Sorted(maps.Keys(desired)) {
		dir := desired[name]
		p := d.projects[name]
		switch {
		case p == nil:
			p = &project{name: name, dir: dir}
			d.projects[name] = p
		case p.running() && p.id != dirID(dir):
			slog.Info("project directory replaced; restarting its runner", "project", name, "dir", dir)
			p.stop()
		case p.running():
			if reload {
				p.runner.Reload()
			}
			continue
		case p.heldDigest != "" && p.heldDigest == digestOf(dir) && !reload:
			continue // same broken (or taken down) content: wait for a change
		}
		d.mu.Lock()
		ps := d.state.Projects[name]
		if ps == nil {
			ps = &ProjectState{Name: name}
			d.state.Projects[name] = ps
		}
		ps.Dir, ps.Active = dir, true
		d.mu.Unlock()
		d.start(p)
	}

	d.mu.Lock()
	d.state.TreeGuard = ""
	d.state.Conflicts = res.Conflicts
	if len(res.Conflicts) == 0 {
		d.state.Conflicts = nil
	}
	d.saveLocked()
	d.mu.Unlock()
	d.fillManaged(&res)
	return res
}

func (d *Daemon) fillManaged(res *ScanResult) {
	for name, p := range d.projects {
		res.Projects[name] = p.dir
	}
}

func (d *Daemon) saveLocked() {
	if err := d.state.save(d.opts.Root); err != nil {
		slog.Warn("save daemon state", "err", err)
	}
}

// under reports whether dir lies inside tree.
func under(tree, dir string) bool {
	rel, err := filepath.Rel(tree, dir)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}
