package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"nucleus/reconcile"
	"nucleus/spec"
)

// project is one managed project: a runner reconciling it, or the error
// that kept the runner from starting (its first load failed).
type project struct {
	name, dir string
	runner    *reconcile.Runner
	cancel    context.CancelFunc
	done      chan struct{} // closed when the runner has returned
	err       error         // why the runner returned early (set before done closes)
	id        [2]uint64     // dirID of dir when the runner started
	// failedDigest is the content the failed start read; a start is retried
	// once the content differs.
	failedDigest string
}

// start runs a runner for p in the background.
func (d *Daemon) start(p *project) {
	sv := d.opts.NewSupervisor(p.name)
	name, dir := p.name, p.dir
	r := &reconcile.Runner{
		Load: func() (*spec.Project, error) {
			// Without a file here, spec.Load would discover one in a parent.
			if ProjectFiles(dir) == nil {
				return nil, fmt.Errorf("no nucleus.yaml or nucleus.yml in %s", dir)
			}
			return spec.Load(LoadOptions(dir, name, d.environ))
		},
		Supervisor: sv, Watch: true, WatchOptions: d.opts.Watch,
		OnPass: func(res reconcile.PassResult) { d.passed(name, dir, res) },
	}
	ctx, cancel := context.WithCancel(d.ctx)
	p.runner, p.cancel, p.done, p.err = r, cancel, make(chan struct{}), nil
	p.failedDigest = ""
	p.id = dirID(dir)
	digest := digestOf(dir)
	slog.Info("project up", "project", name, "dir", dir)
	go func() {
		defer close(p.done)
		if err := r.Run(ctx); err != nil {
			p.err = err
			p.failedDigest = digest
			slog.Error("project does not start", "project", name, "dir", dir, "err", err)
			d.startFailed(name, dir, digest, err)
			d.kick() // a change during the failed start is picked up by a scan
		}
	}()
}

// stop ends p's runner; its sandboxes keep running.
func (p *project) stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
}

// failed reports whether the runner returned early (not because of stop).
func (p *project) failed() bool {
	select {
	case <-p.done:
		return p.err != nil
	default:
		return false
	}
}

// down stops p's runner and removes everything of the project.
func (d *Daemon) down(ctx context.Context, p *project) error {
	p.stop()
	slog.Info("project down", "project", p.name, "dir", p.dir)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	sv := d.opts.NewSupervisor(p.name)
	defer sv.Close()
	return sv.Down(ctx)
}

// digestOf digests the project files of dir (not the env files they
// name): enough to notice that a broken project was edited.
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

// startFailed records a failed first load like a runner would: in the
// project record (so `nucleus status` shows the error with its position)
// and in the daemon state.
func (d *Daemon) startFailed(name, dir, digest string, err error) {
	now := time.Now()
	pr, lerr := d.store.LoadProject(name)
	if lerr == nil {
		if pr == nil {
			pr = &reconcile.ProjectRecord{Name: name}
		}
		pr.Dir, pr.Files = dir, ProjectFiles(dir)
		pr.AttemptDigest, pr.LastError, pr.LastErrorAt = digest, err.Error(), now
		h := reconcile.ApplyRecord{Digest: digest, At: now, Error: err.Error()}
		pr.History = append([]reconcile.ApplyRecord{h}, pr.History...)
		if len(pr.History) > reconcile.HistoryLen {
			pr.History = pr.History[:reconcile.HistoryLen]
		}
		if serr := d.store.SaveProject(pr); serr != nil {
			slog.Warn("record project state", "project", name, "err", serr)
		}
	}
	commit := GitCommit(dir)
	d.mu.Lock()
	defer d.mu.Unlock()
	if ps := d.state.Projects[name]; ps != nil {
		ps.LoadError, ps.AttemptCommit = err.Error(), commit
		if commit != "" {
			if ps.Commits == nil {
				ps.Commits = map[string]string{}
			}
			ps.Commits[digest] = commit
		}
		d.saveLocked()
	}
}
