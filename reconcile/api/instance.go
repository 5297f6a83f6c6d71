package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/reconcile/images"
	"nucleus/runtime"
	"nucleus/spec"
)

// Options configure a supervisor instance.
type Options struct {
	Root    rootdir.Root
	Project string
	// Load reads the project files (spec.Load with the command's options).
	Load func() (*spec.Project, error)
	// Services limits the project to these services and their dependencies.
	Services []string
	// Up makes the first pass serve an explicit `nucleus up` of Services
	// (foreground up): replicas that do not run are started. A supervisor
	// the daemon starts, or a detached one (its up arrives as Apply), leaves
	// it false.
	Up bool
	// UpFlags are the flags of the up that starts this supervisor (its
	// scale and --no-deps hold from the first pass on).
	UpFlags reconcile.UpFlags
	// Watch reloads on file changes.
	Watch  bool
	OnPass func(reconcile.PassResult)
	OnStep func(st reconcile.Step, done bool, err error)
	// CheckSource judges the host paths a sandbox really mounts (see
	// host.Runtime.CheckSource); the daemon sets it to its policy.
	CheckSource func(svc *spec.Service, target, real string) error
	// Parts are what the supervisor runs on (zero: the host's).
	Parts Parts
	// Select, when set, hears the profiles and services an apply asks for
	// before its pass, so that Load enables them (`up --profile debug`
	// or `up tools` against a running supervisor).
	Select func(profiles, services []string)
}

// ErrDown is returned by Run when a client asked the supervisor to take
// the project down (done) and exit.
var ErrDown = errors.New("the project was taken down")

// Instance is a running supervisor for one project: the lock, the API
// socket, and the reconcile Runner.
type Instance struct {
	o      Options
	lock   *Lock
	ln     net.Listener
	srv    *http.Server
	sv     *reconcile.Supervisor
	runner *reconcile.Runner

	// stopEvents ends the events streams (see serveEvents).
	stopEvents func()

	mu        sync.Mutex
	cancelRun context.CancelFunc
	runDone   chan struct{}
	finished  chan struct{}
	finOnce   sync.Once
	downOnce  sync.Once
	downing   bool // Down has begun: Run reports ErrDown once it is done
	downRan   bool
	downErr   error
	// pending are the steps of the passes since the last Apply request, so
	// `up -d` reports what the supervisor's first pass did.
	pending []reconcile.Step
}

// Start takes the project's lock (*ErrRunning when another supervisor has
// it), builds the supervisor and serves the API. Run then reconciles.
func Start(o Options) (*Instance, error) {
	lock, err := TryLock(o.Root, o.Project)
	if err != nil {
		return nil, err
	}
	sv, err := o.Parts.supervisor(o.Root, o.Project, o.CheckSource)
	if err != nil {
		lock.Release(false)
		return nil, err
	}
	sv.OnStep = o.OnStep
	recs, _ := sv.Store.LoadSandboxes(o.Project) // a corrupt record is ps's to report
	sv.Events = reconcile.NewEventHub(recs)
	in := &Instance{o: o, lock: lock, sv: sv, runDone: make(chan struct{}), finished: make(chan struct{})}
	in.runner = &reconcile.Runner{Load: o.Load, Resolve: images.Supervisor(o.Root), Supervisor: sv, Watch: o.Watch, OnPass: func(res reconcile.PassResult) {
		in.mu.Lock()
		in.pending = append(in.pending, res.Steps...)
		in.mu.Unlock()
		if o.OnPass != nil {
			o.OnPass(res)
		}
	}}
	in.runner.SetUpFlags(o.Services, o.UpFlags)
	in.runner.Select(o.Services)
	if o.Up {
		in.runner.RequestUp(o.Services)
	}
	ln, err := in.listen()
	if err != nil {
		lock.Release(false)
		return nil, err
	}
	in.ln = ln
	in.srv = &http.Server{Handler: in.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = in.srv.Serve(ln) }()
	return in, nil
}

// Supervisor is the instance's supervisor (Hurry on a second Ctrl-C).
func (in *Instance) Supervisor() *reconcile.Supervisor { return in.sv }

// Runner is the instance's reconcile loop.
func (in *Instance) Runner() *reconcile.Runner { return in.runner }

// Run adopts what runs, applies the files and reconciles until ctx ends
// (nil: sandboxes keep running) or a client took the project down (ErrDown).
func (in *Instance) Run(ctx context.Context) error {
	rctx, cancel := context.WithCancel(ctx)
	in.mu.Lock()
	in.cancelRun = cancel
	in.mu.Unlock()
	errc := make(chan error, 1)
	go func() {
		defer close(in.runDone)
		errc <- in.runner.Run(rctx)
	}()
	select {
	case err := <-errc:
		cancel()
		in.mu.Lock()
		downing := in.downing
		in.mu.Unlock()
		if downing {
			// Down stopped the runner; report its end, not the runner's.
			<-in.finished
			return in.downResult()
		}
		return err
	case <-in.finished:
		cancel()
		return in.downResult()
	}
}

// downResult is ErrDown when Down removed everything, else why it did not:
// a supervisor must not report a project down that is not.
func (in *Instance) downResult() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.downErr != nil {
		return fmt.Errorf("take the project down: %w", in.downErr)
	}
	return ErrDown
}

// stopRunner ends the reconcile loop and waits for it (sandboxes keep running).
func (in *Instance) stopRunner() {
	in.mu.Lock()
	cancel := in.cancelRun
	in.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-in.runDone
}

// Apply serves `nucleus up [SERVICE...]`: it widens the service selection,
// asks for a pass that also starts every replica of the services (and their
// dependencies) that does not run (exited, crashed, stopped), and returns
// its outcome.
func (in *Instance) Apply(ctx context.Context, services []string) (*ApplyResponse, error) {
	return in.ApplyWith(ctx, services, nil)
}

// ApplyWith is Apply with up's flags (reconcile.Runner.SetUpFlags): they
// replace the scale and --no-deps of the previous up; nil keeps them.
func (in *Instance) ApplyWith(ctx context.Context, services []string, f *reconcile.UpFlags) (*ApplyResponse, error) {
	if f != nil {
		in.runner.SetUpFlags(services, *f)
	}
	in.runner.Select(services)
	res, err := in.runner.Up(ctx, services)
	if err != nil {
		return nil, err
	}
	in.mu.Lock()
	out := &ApplyResponse{Steps: append([]reconcile.Step{}, in.pending...), Digest: res.Digest}
	in.pending = nil
	in.mu.Unlock()
	if res.LoadErr != nil {
		out.LoadError = res.LoadErr.Error()
	}
	if res.ApplyErr != nil {
		out.ApplyError = res.ApplyErr.Error()
	}
	return out, nil
}

// Reload asks for a pass (SIGHUP).
func (in *Instance) Reload() { in.runner.Reload() }

// Down stops reconciling, then stops and removes everything of the
// project (see DownLocked). It runs once; later calls return its result.
func (in *Instance) Down(ctx context.Context, o DownOptions) error {
	in.downOnce.Do(func() {
		in.mu.Lock()
		in.downing = true
		in.mu.Unlock()
		in.stopRunner() // the runner's replicas stay tracked: no second adopt
		err := downLocked(ctx, in.o.Root, in.o.Project, in.sv, o, false)
		in.mu.Lock()
		in.downRan, in.downErr = true, err
		in.mu.Unlock()
		in.finish()
	})
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.downErr
}

func (in *Instance) finish() { in.finOnce.Do(func() { close(in.finished) }) }

// Close stops serving, removes the socket and releases the lock; the
// sandboxes keep running unless Down was called. After Down, the lock file
// and the log of a detached supervisor are removed too.
func (in *Instance) Close() {
	in.stopRunner()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if in.stopEvents != nil {
		in.stopEvents()
	}
	_ = in.srv.Shutdown(ctx)
	os.Remove(SocketPath(in.o.Root, in.o.Project))
	in.mu.Lock()
	down := in.downRan && in.downErr == nil
	in.mu.Unlock()
	in.lock.Release(down)
	if down {
		os.Remove(LogPath(in.o.Root, in.o.Project))
		removeEmptyDir(Dir(in.o.Root))
	}
}

func removeEmptyDir(dir string) {
	_ = os.Remove(dir) // fails when not empty: another project's supervisor
	_ = os.Remove(filepath.Dir(dir) + "/projects")
}

// downLocked takes the project down with the lock held: adopt whatever
// runs, stop everything in reverse dependency order, remove networks
// (NAT, DNS) and records; -v removes named volumes.
func downLocked(ctx context.Context, root rootdir.Root, project string, sv *reconcile.Supervisor, o DownOptions, adopt bool) error {
	sv.StopTimeout = o.Timeout
	if adopt {
		if err := sv.Adopt(ctx); err != nil {
			slog.Warn("adopt before down", "project", project, "err", err)
		}
	}
	if err := sv.Down(ctx); err != nil {
		return fmt.Errorf("down %s: %w", project, err)
	}
	sv.Close()
	if err := images.Forget(root, project); err != nil {
		return fmt.Errorf("down %s: %w", project, err)
	}
	dir := filepath.Join(root.Data, "volumes", project)
	if o.Volumes {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove volumes of %s: %w", project, err)
		}
	}
	// The project's uid/gid range is kept while named volumes owned by it
	// remain (a later up must map the same ids); otherwise it goes too, so
	// nothing of the project is left on the host.
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := runtime.ReleaseProjectIDRange(root, project); err != nil {
			return fmt.Errorf("release the id range of %s: %w", project, err)
		}
	}
	return nil
}
