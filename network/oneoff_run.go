package network

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"

	"nucleus/internal/keeper"
	"nucleus/internal/rootdir"
	"nucleus/spec"
)

// A one-off sandbox (`nucleus run --network N` or `run -p`) joins project
// networks beside, or without, the project's supervisor, and must leave them
// as it found them: RunSession is that life cycle, kept here so that the CLI
// only parses flags.

// RunNetworkName is the network of the private project of `run -p` without
// --network.
const RunNetworkName = "run"

// RunPrivatePrefix starts the name of a run's private project.
const RunPrivatePrefix = "run-"

// RunNetSpec is what a one-off sandbox asks for.
type RunNetSpec struct {
	// Project whose Networks to join; "" gives a private project of its
	// own (RunPrivatePrefix + random) with one network, removed on Close.
	Project  string
	Networks []*Config // Name set; ports go to the first (by name)
	Ports    []Port
	// Service is the sandbox's name: its attachment key and DNS name.
	Service string
	// Reserved are names the sandbox may not take (the project's
	// services): attaching under a service's key would replace its veth.
	Reserved []string
}

// RunRecord is what has to be undone for a run; persist it before Ensure so
// that CleanupRun can finish the job after the run was killed.
type RunRecord struct {
	Project  string   `json:"project"`
	Private  bool     `json:"private,omitempty"`
	Service  string   `json:"service"`
	Networks []string `json:"networks"`
	// Created are the networks the run made (nobody served them before):
	// removed when the run ends, unless someone else joined meanwhile.
	Created []string `json:"created,omitempty"`
	// Keeper: without root, the project's user namespace keeper did not
	// run before the run (the run starts it): stopped when the run ends
	// and the project has no network left.
	Keeper bool `json:"keeper,omitempty"`
}

// RunSession is the network side of one one-off sandbox.
type RunSession struct {
	m        *Manager
	rec      RunRecord
	nets     []*Config
	ports    []Port
	attached []string
}

// ErrNameTaken is wrapped by NewRunSession when Service is a project
// service or already attached to one of the networks.
var ErrNameTaken = errors.New("name taken")

// NewRunSession checks the request and notes which networks exist; it
// creates nothing yet (Ensure does).
func NewRunSession(root rootdir.Root, s RunNetSpec) (*RunSession, error) {
	r := &RunSession{ports: slices.Clone(s.Ports), rec: RunRecord{Project: s.Project, Service: s.Service}}
	if s.Project == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		r.rec.Project, r.rec.Private = RunPrivatePrefix+hex.EncodeToString(b), true
		r.nets = []*Config{{Name: RunNetworkName}}
	} else {
		r.nets = slices.Clone(s.Networks)
		slices.SortFunc(r.nets, func(a, b *Config) int { return cmp.Compare(a.Name, b.Name) })
		if slices.Contains(s.Reserved, s.Service) {
			return nil, fmt.Errorf("--name %s: %w: it is a service of project %s (a one-off sandbox would replace its network attachment); choose another name", s.Service, ErrNameTaken, s.Project)
		}
	}
	m, err := NewManager(root)
	if err != nil {
		return nil, err
	}
	r.m = m
	if _, ok := keeper.Find(keeper.ProjectDir(root.Run, r.rec.Project)); !ok && os.Geteuid() != 0 && !r.rec.Private {
		r.rec.Keeper = true
	}
	for _, sn := range r.nets {
		r.rec.Networks = append(r.rec.Networks, sn.Name)
		n, err := r.load(sn.Name)
		if err != nil {
			m.Close()
			return nil, err
		}
		if n == nil {
			r.rec.Created = append(r.rec.Created, sn.Name)
			continue
		}
		key := attachKey(s.Service, 1)
		if a := n.Attachments[key]; a != nil {
			m.Close()
			return nil, fmt.Errorf("--name %s: %w: network %s of project %s has a sandbox attached under that name (pid %d); choose another name", s.Service, ErrNameTaken, sn.Name, s.Project, a.PID)
		}
	}
	return r, nil
}

func (r *RunSession) load(network string) (*NetworkState, error) {
	defer r.m.lock()()
	return r.m.loadNetwork(r.rec.Project, network)
}

// Record returns what Close (or CleanupRun) will undo.
func (r *RunSession) Record() RunRecord { return r.rec }

// Project is the project whose networks the sandbox joins.
func (r *RunSession) Project() string { return r.rec.Project }

// Ensure creates the networks that do not exist. A network the supervisor
// runs is adopted as is (its DNS stays with the supervisor); otherwise this
// process serves its DNS until Close.
func (r *RunSession) Ensure(ctx context.Context) error {
	for _, sn := range r.nets {
		if _, err := r.m.EnsureNetwork(ctx, r.rec.Project, sn); err != nil {
			return err
		}
	}
	return nil
}

// Apply makes svc a member of the session's networks (the caller sets its
// ports: the file's type).
func (r *RunSession) Apply(svc *spec.Service) {
	svc.Networks = map[string]*spec.ServiceNetwork{}
	for _, sn := range r.nets {
		svc.Networks[sn.Name] = &spec.ServiceNetwork{}
	}
}

// Reserve reserves the sandbox's address on each network before it is
// created (its /etc/hosts names it); it returns the one on the first.
// Release gives them back.
func (r *RunSession) Reserve(ctx context.Context) (string, error) {
	var own string
	for i, sn := range r.nets {
		ip, err := r.m.Reserve(r.rec.Project, sn.Name, r.rec.Service, 1, "")
		if err != nil {
			return "", err
		}
		if i == 0 {
			own = ip
		}
	}
	return own, nil
}

// Files are the sandbox's /etc/resolv.conf (the networks' embedded DNS) and
// /etc/hosts naming own (from Reserve), as the supervisor generates them
// for a service.
func (r *RunSession) Files(svc *spec.Service, own string) (map[string][]byte, error) {
	ns, err := r.m.Nameservers(r.rec.Project, r.rec.Networks)
	if err != nil {
		return nil, err
	}
	extra, err := WithHostGateway(svc.ExtraHosts, func() (string, error) { return r.m.HostGateway(r.rec.Project, r.rec.Networks) })
	if err != nil {
		return nil, err
	}
	return SandboxFiles(Hosts{Hostname: svc.Hostname, Address: own, Extra: extra}, ns, svc.DNS)
}

// Attach connects the created (not yet started) sandbox's namespace to each
// network; published ports go to the first one, as for a service. On an
// error it returns the network that failed; Detach undoes what was
// attached before it.
func (r *RunSession) Attach(ctx context.Context, pid int) (string, error) {
	for _, sn := range r.nets {
		at := Attachment{Project: r.rec.Project, Network: sn.Name, Service: r.rec.Service, Replica: 1, PID: pid}
		if PublishesOn(sn.Name, r.rec.Networks) {
			at.Ports = r.ports
		}
		if _, err := r.m.Attach(ctx, at); err != nil {
			return sn.Name, err
		}
		r.attached = append(r.attached, sn.Name)
	}
	return "", nil
}

// Detach disconnects the sandbox from the networks Attach joined.
func (r *RunSession) Detach(ctx context.Context) error {
	var errs []error
	for _, name := range r.attached {
		if err := r.m.Detach(ctx, r.rec.Project, name, r.rec.Service, 1); err != nil {
			errs = append(errs, err)
		}
	}
	r.attached = nil
	return errors.Join(errs...)
}

// Release forgets the addresses Reserve reserved (of a detached sandbox).
func (r *RunSession) Release(ctx context.Context) error { return forget(r.m, r.rec) }

// Close detaches the sandbox, forgets its address, removes what the run
// created and stops the DNS servers this process ran. Call it after the
// sandbox is removed.
func (r *RunSession) Close(ctx context.Context) error {
	errs := []error{r.Detach(ctx)}
	errs = append(errs, undoRun(ctx, r.m, r.rec))
	errs = append(errs, r.m.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up the networks of %s: %w", r.rec.Service, err)
	}
	return nil
}

// undoRun forgets the run's addresses and removes what it created.
func undoRun(ctx context.Context, m *Manager, rec RunRecord) error {
	// Reserve recorded the address even when Attach never ran.
	errs := []error{forget(m, rec)}
	if rec.Private {
		if err := m.RemoveProject(ctx, rec.Project); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	for _, name := range rec.Created {
		if _, err := m.RemoveNetworkIfUnused(ctx, rec.Project, name); err != nil {
			errs = append(errs, err)
		}
	}
	if rec.Keeper {
		errs = append(errs, m.stopIdleKeeper(rec.Project))
	}
	return errors.Join(errs...)
}

// forget drops the run's reserved addresses.
func forget(m *Manager, rec RunRecord) error {
	var errs []error
	for _, name := range rec.Networks {
		errs = append(errs, m.Forget(rec.Project, name, rec.Service, 1))
	}
	return errors.Join(errs...)
}

// CleanupRun undoes rec for a run whose process is gone (killed before it
// could Close): it detaches the run's sandbox where the attached process is
// dead, forgets its addresses and removes what the run created.
func CleanupRun(ctx context.Context, root rootdir.Root, rec RunRecord) error {
	m, err := NewManager(root)
	if err != nil {
		return err
	}
	defer m.Close()
	var errs []error
	for _, name := range rec.Networks {
		if err := m.detachDead(ctx, rec.Project, name, rec.Service); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, undoRun(ctx, m, rec))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up the networks of dead run %s: %w", rec.Service, err)
	}
	return nil
}

// detachDead detaches service/1 when its process is gone; a live process
// under that key is not the dead run's (pid reuse aside) and stays.
func (m *Manager) detachDead(ctx context.Context, project, network, service string) error {
	unlock := m.lock()
	n, err := m.loadNetwork(project, network)
	unlock()
	if err != nil || n == nil {
		return err
	}
	a := n.Attachments[attachKey(service, 1)]
	if a == nil || pidAlive(a.PID) {
		return nil
	}
	return m.Detach(ctx, project, network, service, 1)
}
