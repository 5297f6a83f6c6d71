package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"nucleus/loader"
	"nucleus/reconcile"
	"nucleus/spec"
)

// project is one managed project: a runner reconciling it, or why there
// is none (files that do not load, a failed start, taken down).
type project struct {
	name, dir string
	runner    ProjectRunner
	cancel    context.CancelFunc
	done      chan struct{} // closed when the runner has returned
	err       error         // why it returned early (set before done closes)
	id        [2]uint64     // dirID of dir when the runner started
	// heldDigest is the content a start failed on because of the files
	// (or that was taken down); the project waits until it changes.
	heldDigest string
}

// running reports whether p has a runner that has not returned.
func (p *project) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// load reads the project files of dir under name.
func (d *Daemon) load(dir, name string) func() (*spec.Project, error) {
	return func() (*spec.Project, error) {
		// Without a file here, the loader would discover one in a parent.
		if ProjectFiles(dir) == nil {
			return nil, fmt.Errorf("no nucleus.yaml, nucleus.yml or compose file in %s", dir)
		}
		p, err := loader.Load(loader.Options{LoadOptions: LoadOptions(dir, name, d.environ)})
		if err != nil {
			return nil, err
		}
		// Refused like files that do not load: the last allowed
		// configuration keeps running.
		if err := d.opts.Policy.Check(p); err != nil {
			return nil, err
		}
		return p, nil
	}
}

// start brings p up: files that do not load are recorded (nothing starts;
// a runner would have no last good configuration); otherwise a runner
// adopts what runs and reconciles in the background.
func (d *Daemon) start(p *project) {
	name, dir := p.name, p.dir
	digest := digestOf(dir)
	p.heldDigest, p.err, p.runner, p.done = "", nil, nil, nil
	load := d.load(dir, name)
	if _, err := load(); err != nil {
		p.heldDigest = digest
		slog.Error("project files do not load", "project", name, "dir", dir, "err", err)
		d.startFailed(name, dir, digest, err, true)
		return
	}
	r, err := d.opts.NewRunner(d.opts.Root, name, load, func(res reconcile.PassResult) { d.passed(name, dir, res) })
	if err != nil {
		// Retried at the next scan (another supervisor may hold the project).
		p.err = err
		slog.Error("project supervisor does not start", "project", name, "err", err)
		d.startFailed(name, dir, digest, err, false)
		return
	}
	ctx, cancel := context.WithCancel(d.ctx)
	p.runner, p.cancel, p.done, p.id = r, cancel, make(chan struct{}), dirID(dir)
	slog.Info("project up", "project", name, "dir", dir)
	d.setNote(name, "")
	go func() {
		defer close(p.done)
		err := r.Run(ctx)
		r.Close()
		if err == nil {
			return
		}
		p.err = err
		if errors.Is(err, ErrTakenDown) {
			p.heldDigest = digestOf(dir)
			slog.Info("project taken down by a client", "project", name)
		} else {
			slog.Error("project supervisor ended", "project", name, "err", err)
		}
		d.setNote(name, err.Error())
		d.kick()
	}()
}

// stop ends p's runner; its sandboxes keep running.
func (p *project) stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
		p.cancel = nil
	}
}

// down stops p's runner and removes everything of the project.
func (d *Daemon) down(ctx context.Context, p *project) error {
	p.stop()
	slog.Info("project down", "project", p.name, "dir", p.dir)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return d.opts.Down(ctx, d.opts.Root, p.name)
}

// digestOf digests the project files of dir (not the env files they
// name): enough to notice that a held project was edited.
func digestOf(dir string) string {
	set, _ := reconcile.WatchSet(dir, ProjectFiles(dir))
	return reconcile.ContentDigest(set)
}

// passed records a runner pass in the daemon state: the load error, and
// the git commit of the content the pass read.
func (d *Daemon) passed(name, dir string, res reconcile.PassResult) {
	commit := GitCommit(dir)
	d.mu.Lock()
	defer d.mu.Unlock()
	ps := d.state.Projects[name]
	if ps == nil {
		return // removed meanwhile
	}
	ps.LoadError = ""
	if res.LoadErr != nil {
		ps.LoadError = res.LoadErr.Error()
	}
	ps.AttemptCommit = commit
	if commit != "" {
		if ps.Commits == nil {
			ps.Commits = map[string]string{}
		}
		ps.Commits[res.Digest] = commit
		d.trimCommits(name, ps)
	}
	d.saveLocked()
	if d.opts.OnPass != nil {
		d.opts.OnPass(name, res)
	}
}

// setNote records (or clears) why a managed project has no runner.
func (d *Daemon) setNote(name, note string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ps := d.state.Projects[name]; ps != nil {
		ps.Note = note
		ps.Active = note == ""
		d.saveLocked()
	}
}

// trimCommits keeps the commits of the digests the project record still
// mentions (applied, attempted, history).
func (d *Daemon) trimCommits(name string, ps *ProjectState) {
	if len(ps.Commits) <= reconcile.HistoryLen+2 {
		return
	}
	pr, err := d.store.LoadProject(name)
	if err != nil || pr == nil {
		return
	}
	keep := map[string]bool{pr.Digest: true, pr.AttemptDigest: true}
	for _, h := range pr.History {
		keep[h.Digest] = true
	}
	for dg := range ps.Commits {
		if !keep[dg] {
			delete(ps.Commits, dg)
		}
	}
}

// startFailed records a start that did not happen: a load error in the
// project record like a runner's (so `nucleus status` shows it with its
// position) and in the daemon state.
func (d *Daemon) startFailed(name, dir, digest string, err error, loadErr bool) {
	now := time.Now()
	if loadErr {
		pr, lerr := d.store.LoadProject(name)
		if lerr == nil {
			if pr == nil {
				pr = &reconcile.ProjectRecord{Name: name}
			}
			changed := pr.AttemptDigest != digest || pr.LastError != err.Error()
			pr.Dir, pr.Files = dir, ProjectFiles(dir)
			pr.AttemptDigest, pr.LastError, pr.LastErrorAt = digest, err.Error(), now
			if changed {
				h := reconcile.ApplyRecord{Digest: digest, At: now, Error: err.Error()}
				pr.History = append([]reconcile.ApplyRecord{h}, pr.History...)
				if len(pr.History) > reconcile.HistoryLen {
					pr.History = pr.History[:reconcile.HistoryLen]
				}
			}
			if serr := d.store.SaveProject(pr); serr != nil {
				slog.Warn("record project state", "project", name, "err", serr)
			}
		}
	}
	commit := GitCommit(dir)
	d.mu.Lock()
	defer d.mu.Unlock()
	ps := d.state.Projects[name]
	if ps == nil {
		return
	}
	ps.Active = false
	if loadErr {
		ps.LoadError, ps.Note = err.Error(), ""
	} else {
		ps.Note = err.Error()
	}
	ps.AttemptCommit = commit
	if commit != "" && loadErr {
		if ps.Commits == nil {
			ps.Commits = map[string]string{}
		}
		ps.Commits[digest] = commit
	}
	d.saveLocked()
}
