package reconcile

// In-package fakes for the supervisor's ordering and concurrency tests only;
// the real runtime and network are exercised end to end elsewhere.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"nucleus/spec"
)

type fakeWorld struct {
	mu          sync.Mutex
	events      []string
	times       []time.Time
	creating    int
	maxCreating int
	createDelay time.Duration
	failCreate  map[string]bool
	exitAfter   map[string]fakeExit // service -> exit after start
	healthyAt   map[string]int      // service -> check number that first succeeds
	checks      map[string]int
	leftover    error // RemoveProjectSandboxes fails with it: something is left
}

type fakeExit struct {
	after    time.Duration
	code     int
	oomKills uint64 // processes the OOM killer killed (ExitStatus.OOMKills)
}

func newFakeWorld() *fakeWorld {
	return &fakeWorld{failCreate: map[string]bool{}, exitAfter: map[string]fakeExit{}, healthyAt: map[string]int{}, checks: map[string]int{}}
}

func (w *fakeWorld) log(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, fmt.Sprintf(format, a...))
	w.times = append(w.times, time.Now())
}

// gaps are the times from each event with prefix from to the next with prefix to.
func (w *fakeWorld) gaps(from, to string) []time.Duration {
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

func (w *fakeWorld) Events() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.events...)
}

// index is the position of the first event with prefix ev, -1 if none.
func (w *fakeWorld) index(ev string) int {
	for i, e := range w.Events() {
		if strings.HasPrefix(e, ev) {
			return i
		}
	}
	return -1
}

func (w *fakeWorld) count(ev string) int {
	n := 0
	for _, e := range w.Events() {
		if strings.HasPrefix(e, ev) {
			n++
		}
	}
	return n
}

type fakeSandbox struct {
	w       *fakeWorld
	id      string
	service string
	exit    chan ExitStatus
	once    sync.Once
}

func (s *fakeSandbox) finish(code int) { s.finishWith(ExitStatus{Code: code}) }

func (s *fakeSandbox) finishWith(ex ExitStatus) {
	s.once.Do(func() { s.exit <- ex; close(s.exit) })
}

func (s *fakeSandbox) Pid() int { return os.Getpid() } // a live PID the store can check
func (s *fakeSandbox) Start() error {
	s.w.log("start %s", s.id)
	s.w.mu.Lock()
	e, ok := s.w.exitAfter[s.service]
	s.w.mu.Unlock()
	if ok {
		time.AfterFunc(e.after, func() {
			s.w.log("exit %s %d", s.id, e.code)
			s.finishWith(ExitStatus{Code: e.code, OOMKilled: e.code == 137 && e.oomKills > 0, OOMKills: e.oomKills})
		})
	}
	return nil
}
func (s *fakeSandbox) Wait() (ExitStatus, error) { return <-s.exit, nil }
func (s *fakeSandbox) Stop(ctx context.Context, sig syscall.Signal, grace time.Duration) error {
	s.w.log("stop %s", s.id)
	s.finish(128 + int(sig))
	return nil
}
func (s *fakeSandbox) UpdateResources(r spec.Resources) error {
	s.w.log("update %s memory=%s", s.id, r.Memory)
	return nil
}
func (s *fakeSandbox) Record() (json.RawMessage, error) { return json.RawMessage(`{}`), nil }

type fakeRuntime struct{ w *fakeWorld }

// Launch creates, attaches and starts as reconcile/launch does.
func (f fakeRuntime) Launch(ctx context.Context, req LaunchRequest) (Sandbox, []Attachment, error) {
	sb, err := f.create(req)
	if err != nil {
		return nil, nil, fmt.Errorf("create sandbox: %w", err)
	}
	var atts []Attachment
	for _, net := range slices.Sorted(maps.Keys(req.Service.Networks)) {
		a, err := req.Networks.Attach(ctx, AttachRequest{Project: req.Replica.Project, Network: net, Service: req.Service, Replica: req.Replica.Index, Pid: sb.Pid()})
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

func (f fakeRuntime) create(req LaunchRequest) (*fakeSandbox, error) {
	w := f.w
	w.mu.Lock()
	w.creating++
	w.maxCreating = max(w.maxCreating, w.creating)
	fail := w.failCreate[req.Service.Name]
	w.mu.Unlock()
	time.Sleep(w.createDelay)
	w.mu.Lock()
	w.creating--
	w.mu.Unlock()
	if fail {
		w.log("create-failed %s", req.Replica.ID())
		return nil, fmt.Errorf("fake failure creating %s", req.Replica.ID())
	}
	w.log("create %s", req.Replica.ID())
	return &fakeSandbox{w: w, id: req.Replica.ID(), service: req.Service.Name, exit: make(chan ExitStatus, 1)}, nil
}

func (f fakeRuntime) Adopt(ctx context.Context, rec *SandboxRecord) (Sandbox, error) {
	f.w.log("adopt %s", rec.ID)
	return &fakeSandbox{w: f.w, id: rec.ID, service: rec.Service, exit: make(chan ExitStatus, 1)}, nil
}

func (f fakeRuntime) Cleanup(ctx context.Context, rec *SandboxRecord) error {
	f.w.log("cleanup %s", rec.ID)
	return nil
}

func (f fakeRuntime) RemoveProjectSandboxes(ctx context.Context, project string, keep func(id string) bool) ([]string, error) {
	f.w.log("remove-project-sandboxes %s", project)
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	return nil, f.w.leftover
}

type fakeNetworks struct{ w *fakeWorld }

func (f fakeNetworks) EnsureNetwork(ctx context.Context, project string, n *spec.Network) (string, error) {
	f.w.log("ensure-network %s", n.Name)
	return "10.250.0.0/24", nil
}
func (f fakeNetworks) Attach(ctx context.Context, a AttachRequest) (Attachment, error) {
	f.w.log("attach %s %s", Ident{Service: a.Service.Name, Index: a.Replica}.Name(), a.Network)
	return Attachment{IP: "10.250.0.2", Interface: "eth0"}, nil
}
func (f fakeNetworks) Update(ctx context.Context, a AttachRequest) error {
	f.w.log("network-update %s %s", Ident{Service: a.Service.Name, Index: a.Replica}.Name(), a.Network)
	return nil
}
func (f fakeNetworks) Detach(ctx context.Context, project, network, service string, replica int) error {
	f.w.log("detach %s %s", Ident{Service: service, Index: replica}.Name(), network)
	return nil
}
func (f fakeNetworks) Release(ctx context.Context, project, service string, replica int) error {
	return nil
}
func (f fakeNetworks) RemoveNetwork(ctx context.Context, project, network string) error {
	f.w.log("remove-network %s", network)
	return nil
}
func (f fakeNetworks) RemoveProject(ctx context.Context, project string) error {
	f.w.log("remove-project %s", project)
	return nil
}
func (f fakeNetworks) Reserve(ctx context.Context, a AttachRequest) (string, error) {
	return "10.250.0.2", nil
}
func (f fakeNetworks) Files(project string, s *spec.Service, own string) (map[string][]byte, error) {
	return nil, nil
}

type fakeHealth struct{ w *fakeWorld }

func (f fakeHealth) Check(ctx context.Context, sb Sandbox, hc *spec.Healthcheck) error {
	s := sb.(*fakeSandbox)
	w := f.w
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

func newFakeSupervisor(t *testing.T, w *fakeWorld) *Supervisor {
	t.Helper()
	b := DefaultBackoff()
	b.Rand = nil
	sv := &Supervisor{
		Project: "shop", Store: NewStore(rootForTest(t)), Runtime: fakeRuntime{w}, Networks: fakeNetworks{w},
		Parallel: 4, Backoff: b, DependencyTimeout: 5 * time.Second,
	}
	t.Cleanup(sv.Close)
	return sv
}
