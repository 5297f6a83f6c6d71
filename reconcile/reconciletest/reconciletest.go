// Package reconciletest holds fakes of the runtime, the networks and the
// health checker that reconcile's supervisor drives, so that the logic of
// reconcile, reconcile/api and reconcile/daemon (ordering, restarts,
// project lifecycle, status) is tested without root. Every call is logged
// as an event ("create shop.web.1", "stop shop.web.1", ...) that tests
// assert on. The real runtime and network are tested for real elsewhere;
// these fakes are for logic only.
package reconciletest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/spec"
)

// World is what the fakes share: the event log and how the fake sandboxes
// behave. Its setters may be called while a supervisor runs.
type World struct {
	mu          sync.Mutex
	events      []string
	times       []time.Time
	creating    int
	maxCreating int
	createDelay time.Duration
	failCreate  map[string]bool
	onCreate    func()
	exitAfter   map[string]Exit
	healthyAt   map[string]int
	checks      map[string]int
	leftover    error
}

// Exit is how a fake sandbox of a service ends on its own after Start.
type Exit struct {
	After    time.Duration
	Code     int
	OOMKills uint64 // processes the OOM killer killed (ExitStatus.OOMKills)
}

// NewWorld returns a world where every sandbox is created, runs until
// stopped and is never healthy.
func NewWorld() *World {
	return &World{failCreate: map[string]bool{}, exitAfter: map[string]Exit{}, healthyAt: map[string]int{}, checks: map[string]int{}}
}

// SetCreateDelay makes every create take d (to observe parallelism).
func (w *World) SetCreateDelay(d time.Duration) { w.mu.Lock(); w.createDelay = d; w.mu.Unlock() }

// FailCreate makes creating a sandbox of service fail.
func (w *World) FailCreate(service string) { w.mu.Lock(); w.failCreate[service] = true; w.mu.Unlock() }

// OnCreate calls f as every create begins (to look at the records then).
func (w *World) OnCreate(f func()) { w.mu.Lock(); w.onCreate = f; w.mu.Unlock() }

// ExitAfter makes every sandbox of service exit as e says after Start.
func (w *World) ExitAfter(service string, e Exit) {
	w.mu.Lock()
	w.exitAfter[service] = e
	w.mu.Unlock()
}

// HealthyAt makes service's health check pass from its n-th check on
// (counted over all its replicas); 0 means never.
func (w *World) HealthyAt(service string, n int) {
	w.mu.Lock()
	w.healthyAt[service] = n
	w.mu.Unlock()
}

// Checks is how many health checks of service ran.
func (w *World) Checks(service string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.checks[service]
}

// SetLeftover makes RemoveProjectSandboxes fail with err: something of the
// project is left on the host.
func (w *World) SetLeftover(err error) { w.mu.Lock(); w.leftover = err; w.mu.Unlock() }

// MaxCreating is the most sandboxes that were being created at once.
func (w *World) MaxCreating() int { w.mu.Lock(); defer w.mu.Unlock(); return w.maxCreating }

func (w *World) log(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, fmt.Sprintf(format, a...))
	w.times = append(w.times, time.Now())
}

// Events is the event log so far.
func (w *World) Events() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events)
}

// Index is the position of the first event with prefix ev, -1 if none.
func (w *World) Index(ev string) int {
	for i, e := range w.Events() {
		if strings.HasPrefix(e, ev) {
			return i
		}
	}
	return -1
}

// Count is the number of events with prefix ev.
func (w *World) Count(ev string) int {
	n := 0
	for _, e := range w.Events() {
		if strings.HasPrefix(e, ev) {
			n++
		}
	}
	return n
}

// Gaps are the times from each event with prefix from to the next with
// prefix to.
func (w *World) Gaps(from, to string) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	var since time.Time
	for i, e := range w.events {
		switch {
		case strings.HasPrefix(e, from):
			since = w.times[i]
		case strings.HasPrefix(e, to) && !since.IsZero():
			out = append(out, w.times[i].Sub(since))
			since = time.Time{}
		}
	}
	return out
}

// Sandbox is a fake sandbox: it runs until stopped or until its World
// says it exits. Its PID is the test process's, a live PID the store
// accepts.
type Sandbox struct {
	w       *World
	id      string
	service string
	exit    chan reconcile.ExitStatus
	once    sync.Once
}

func newSandbox(w *World, id, service string) *Sandbox {
	return &Sandbox{w: w, id: id, service: service, exit: make(chan reconcile.ExitStatus, 1)}
}

// Exit ends the sandbox's workload with ex (a crash, a kill) as if the
// process had exited; later calls do nothing.
func (s *Sandbox) Exit(ex reconcile.ExitStatus) {
	s.once.Do(func() { s.exit <- ex; close(s.exit) })
}

// PID is the test process's PID.
func (s *Sandbox) PID() int { return os.Getpid() }

// Start logs "start ID" and arms the exit its World set for the service.
func (s *Sandbox) Start() error {
	s.w.log("start %s", s.id)
	s.w.mu.Lock()
	e, ok := s.w.exitAfter[s.service]
	s.w.mu.Unlock()
	if ok {
		time.AfterFunc(e.After, func() {
			s.w.log("exit %s %d", s.id, e.Code)
			s.Exit(reconcile.ExitStatus{Code: e.Code, OOMKilled: e.Code == 137 && e.OOMKills > 0, OOMKills: e.OOMKills})
		})
	}
	return nil
}

// Wait returns once the sandbox exited or was stopped.
func (s *Sandbox) Wait() (reconcile.ExitStatus, error) { return <-s.exit, nil }

// Stop logs "stop ID" and ends the workload with 128+sig.
func (s *Sandbox) Stop(ctx context.Context, sig syscall.Signal, grace time.Duration) error {
	s.w.log("stop %s", s.id)
	s.Exit(reconcile.ExitStatus{Code: 128 + int(sig)})
	return nil
}

// UpdateResources logs "update ID memory=M".
func (s *Sandbox) UpdateResources(r spec.Resources) error {
	s.w.log("update %s memory=%s", s.id, r.Memory)
	return nil
}

// Runtime is a fake reconcile.Runtime over a World.
type Runtime struct{ W *World }

// Launch creates, attaches and starts as reconcile/launch does, logging
// "create ID" (or "create-failed ID"), the attaches and "start ID".
func (f Runtime) Launch(ctx context.Context, req reconcile.LaunchRequest) (reconcile.Sandbox, []reconcile.Attachment, error) {
	sb, err := f.create(req)
	if err != nil {
		return nil, nil, fmt.Errorf("create sandbox: %w", err)
	}
	var atts []reconcile.Attachment
	for _, net := range slices.Sorted(maps.Keys(req.Service.Networks)) {
		a, err := req.Networks.Attach(ctx, reconcile.AttachRequest{Project: req.Replica.Project, Network: net, Service: req.Service, Replica: req.Replica.Index, PID: sb.PID()})
		if err != nil {
			return nil, nil, err
		}
		a.Network = net
		atts = append(atts, a)
	}
	if err := sb.Start(); err != nil {
		return nil, nil, err
	}
	return sb, atts, nil
}

func (f Runtime) create(req reconcile.LaunchRequest) (*Sandbox, error) {
	w := f.W
	w.mu.Lock()
	w.creating++
	w.maxCreating = max(w.maxCreating, w.creating)
	fail, delay, onCreate := w.failCreate[req.Service.Name], w.createDelay, w.onCreate
	w.mu.Unlock()
	if onCreate != nil {
		onCreate()
	}
	time.Sleep(delay)
	w.mu.Lock()
	w.creating--
	w.mu.Unlock()
	if fail {
		w.log("create-failed %s", req.Replica.ID())
		return nil, fmt.Errorf("fake failure creating %s", req.Replica.ID())
	}
	w.log("create %s", req.Replica.ID())
	return newSandbox(w, req.Replica.ID(), req.Service.Name), nil
}

// Adopt logs "adopt ID" and returns a running sandbox.
func (f Runtime) Adopt(ctx context.Context, rec *reconcile.SandboxRecord) (reconcile.Sandbox, error) {
	f.W.log("adopt %s", rec.ID)
	return newSandbox(f.W, rec.ID, rec.Service), nil
}

// Cleanup logs "cleanup ID".
func (f Runtime) Cleanup(ctx context.Context, rec *reconcile.SandboxRecord) error {
	f.W.log("cleanup %s", rec.ID)
	return nil
}

// RemoveProjectSandboxes logs "remove-project-sandboxes PROJECT" and
// fails with the World's leftover error, if any.
func (f Runtime) RemoveProjectSandboxes(ctx context.Context, project string, keep func(id string) bool) ([]string, error) {
	f.W.log("remove-project-sandboxes %s", project)
	f.W.mu.Lock()
	defer f.W.mu.Unlock()
	return nil, f.W.leftover
}

// Forget keeps nothing to forget (and logs nothing: the call logs of the
// tests predate it).
func (f Runtime) Forget(ctx context.Context, project, replica string) error { return nil }

// Networks is a fake reconcile.Networks: every network is 10.250.0.0/24
// and every replica 10.250.0.2 on eth0.
type Networks struct{ W *World }

// EnsureNetwork logs "ensure-network NAME".
func (f Networks) EnsureNetwork(ctx context.Context, project string, n *spec.Network) (string, error) {
	f.W.log("ensure-network %s", n.Name)
	return "10.250.0.0/24", nil
}

// Attach logs "attach REPLICA NETWORK".
func (f Networks) Attach(ctx context.Context, a reconcile.AttachRequest) (reconcile.Attachment, error) {
	f.W.log("attach %s %s", reconcile.Ident{Service: a.Service.Name, Index: a.Replica}.Name(), a.Network)
	return reconcile.Attachment{IP: "10.250.0.2", Interface: "eth0"}, nil
}

// Update logs "network-update REPLICA NETWORK".
func (f Networks) Update(ctx context.Context, a reconcile.AttachRequest) error {
	f.W.log("network-update %s %s", reconcile.Ident{Service: a.Service.Name, Index: a.Replica}.Name(), a.Network)
	return nil
}

// Detach logs "detach REPLICA NETWORK".
func (f Networks) Detach(ctx context.Context, project, network, service string, replica int) error {
	f.W.log("detach %s %s", reconcile.Ident{Service: service, Index: replica}.Name(), network)
	return nil
}

// Release does nothing.
func (f Networks) Release(ctx context.Context, project, service string, replica int, keep []string) error {
	return nil
}

// RemoveNetwork logs "remove-network NAME".
func (f Networks) RemoveNetwork(ctx context.Context, project, network string) error {
	f.W.log("remove-network %s", network)
	return nil
}

// RemoveProject logs "remove-project PROJECT".
func (f Networks) RemoveProject(ctx context.Context, project string) error {
	f.W.log("remove-project %s", project)
	return nil
}

// Reserve reserves 10.250.0.2.
func (f Networks) Reserve(ctx context.Context, a reconcile.AttachRequest) (string, error) {
	return "10.250.0.2", nil
}

// Files generates no files.
func (f Networks) Files(project string, s *spec.Service, own string) (map[string][]byte, error) {
	return nil, nil
}

// Health is a fake reconcile.HealthChecker: a service is healthy from the
// check its World's HealthyAt names on, and each pass logs "healthy ID".
type Health struct{ W *World }

// Check counts the check and passes or fails as the World says.
func (f Health) Check(ctx context.Context, sb reconcile.Sandbox, hc *spec.Healthcheck) error {
	s := sb.(*Sandbox)
	w := f.W
	w.mu.Lock()
	w.checks[s.service]++
	ok := w.healthyAt[s.service] > 0 && w.checks[s.service] >= w.healthyAt[s.service]
	w.mu.Unlock()
	if ok {
		w.log("healthy %s", s.id)
		return nil
	}
	return fmt.Errorf("not yet")
}

// NewSupervisor returns a supervisor of project over root whose runtime,
// networks and health checks are w's fakes, with a back-off without
// jitter; it is closed when the test ends.
func NewSupervisor(t testing.TB, w *World, root rootdir.Root, project string) *reconcile.Supervisor {
	t.Helper()
	b := reconcile.DefaultBackoff()
	b.Rand = nil
	sv := &reconcile.Supervisor{
		Project: project, Store: reconcile.NewStore(root), Runtime: Runtime{w}, Networks: Networks{w}, Health: Health{w},
		Parallel: 4, Backoff: b,
	}
	t.Cleanup(sv.Close)
	return sv
}

// Inspect is a reconcile.Inspector for fake sandboxes: it shows Landlock
// ABI 7 and seccomp "fake", so a test sees the runtime's part of a ps row
// arrive.
func Inspect(rec *reconcile.SandboxRecord, st *reconcile.ReplicaStatus) {
	st.LandlockABI, st.Seccomp = 7, "fake"
}
