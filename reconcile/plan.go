package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"nucleus/spec"
)

// Plan computes the steps that turn observed into desired, in execution
// order, each with its causes. It is pure: no I/O, no clock; the same inputs
// give the same plan, which is what `nucleus plan` prints and what the
// supervisor executes (see Batches for the parallel grouping).
//
// Per replica: hash unchanged and running -> nothing; only live fields
// changed -> update in place; any other change -> restart; exited -> start
// again only as the restart policy allows. Dependents whose depends_on entry
// has restart: true follow a restarted dependency. Services not in the files
// are removed first (reverse dependency order), networks are created or
// recreated next, services start in dependency order, and networks no longer
// declared are removed last, after their sandboxes.
func Plan(desired *spec.Project, observed Observed) []Step {
	p := newPlanner(desired, observed)
	p.networks()
	p.removedServices()
	for _, name := range p.serviceOrder() {
		p.service(name, desired.Services[name])
	}
	p.reattach()
	return p.ordered()
}

type planner struct {
	desired  *spec.Project
	replicas map[string]map[int]ReplicaState // service -> replica -> state
	nets     map[string]NetworkState
	level    map[string]int
	steps    []Step

	supervisorStart bool            // Observed.SupervisorStart
	up              map[string]bool // Observed.Up
	recreate        map[string]bool // Observed.Recreate
	recreateBefore  time.Time       // Observed.RecreateBefore
	goneCause       string          // why what the files lack is removed
	restarted       map[string]bool // services with a restarted replica, for restart: true
	touched         map[string]map[int]bool
	recreated       []string // networks recreated by this plan
	hashByName      map[string]string
}

func newPlanner(desired *spec.Project, observed Observed) *planner {
	p := &planner{
		desired:         desired,
		replicas:        map[string]map[int]ReplicaState{},
		nets:            map[string]NetworkState{},
		restarted:       map[string]bool{},
		touched:         map[string]map[int]bool{},
		hashByName:      map[string]string{},
		supervisorStart: observed.SupervisorStart,
		goneCause:       "not in the files",
		up:              map[string]bool{},
	}
	if observed.Down {
		p.goneCause = "the project goes down"
	}
	for _, name := range observed.Up {
		p.up[name] = true
	}
	p.recreate, p.recreateBefore = map[string]bool{}, observed.RecreateBefore
	for _, name := range observed.Recreate {
		p.recreate[name] = true
	}
	for _, r := range observed.Replicas {
		if p.replicas[r.Service] == nil {
			p.replicas[r.Service] = map[int]ReplicaState{}
		}
		p.replicas[r.Service][r.Replica] = r
	}
	for _, n := range observed.Networks {
		p.nets[n.Name] = n
	}
	// Levels over desired services plus the services about to be removed
	// (with the dependencies they were applied with), so removals also stop
	// dependents before their dependencies.
	deps := map[string][]string{}
	for name, s := range desired.Services {
		deps[name] = slices.Sorted(maps.Keys(s.DependsOn))
	}
	for name, reps := range p.replicas {
		if _, ok := deps[name]; ok {
			continue
		}
		deps[name] = nil
		for _, r := range sortedReplicas(reps) {
			if r.Applied != nil {
				deps[name] = slices.Sorted(maps.Keys(r.Applied.DependsOn))
				break
			}
		}
	}
	p.level = levelsOf(deps)
	return p
}

func (p *planner) serviceOrder() []string {
	names := slices.Collect(maps.Keys(p.desired.Services))
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(p.level[a], p.level[b]), cmp.Compare(a, b))
	})
	return names
}

func (p *planner) add(s Step) {
	if s.Service != "" {
		s.Level = p.level[s.Service]
		if p.touched[s.Service] == nil {
			p.touched[s.Service] = map[int]bool{}
		}
		for _, r := range s.Replicas {
			p.touched[s.Service][r] = true
		}
	}
	p.steps = append(p.steps, s)
}

// networks compares declared networks with the existing ones.
func (p *planner) networks() {
	for _, name := range slices.Sorted(maps.Keys(p.desired.Networks)) {
		d := p.desired.Networks[name]
		o, ok := p.nets[name]
		if !ok {
			p.add(Step{Action: ActionCreateNetwork, Network: name, Causes: []string{"new network"}})
			continue
		}
		recreate, live := networkChanges(o, d)
		switch {
		case len(recreate) > 0:
			p.add(Step{Action: ActionRecreateNetwork, Network: name, Causes: append(recreate, live...)})
			p.recreated = append(p.recreated, name)
		case len(live) > 0:
			p.add(Step{Action: ActionUpdateNetwork, Network: name, Causes: live})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.nets)) {
		if _, ok := p.desired.Networks[name]; !ok {
			p.add(Step{Action: ActionRemoveNetwork, Network: name, Causes: []string{p.goneCause}})
		}
	}
}

// networkChanges splits a network's differences into those that need the
// network recreated and those the network package applies in place.
func networkChanges(o NetworkState, d *spec.Network) (recreate, live []string) {
	if d.Subnet != "" && d.Subnet != o.Subnet {
		if o.Subnet == "" {
			recreate = append(recreate, "subnet set to "+d.Subnet)
		} else {
			recreate = append(recreate, "subnet "+o.Subnet+" -> "+d.Subnet)
		}
	}
	a := o.Applied
	if a == nil {
		// A record from before Applied was kept: nat, internal and dns may
		// differ unseen, so recreate it once; the new record has Applied.
		return append(recreate, "applied configuration unknown"), live
	}
	if d.Subnet == "" && a.Subnet != "" {
		// Back to auto-allocation: keeping the old static subnet would make
		// config and ps disagree.
		recreate = append(recreate, "subnet "+a.Subnet+" -> auto")
	}
	if a.NAT != d.NAT {
		recreate = append(recreate, "nat "+a.NAT+" -> "+d.NAT)
	}
	if a.Internal != d.Internal {
		recreate = append(recreate, fmt.Sprintf("internal %t -> %t", a.Internal, d.Internal))
	}
	if !slices.Equal(a.DNS, d.DNS) {
		live = append(live, "dns "+listString(a.DNS)+" -> "+listString(d.DNS))
	}
	return recreate, live
}

func listString(l []string) string { return "[" + strings.Join(l, " ") + "]" }

// removedServices removes every recorded service that is not in the files.
// A service the files have but whose profiles are not active is left as it
// is, as Compose leaves it: an up without --profile, or a supervisor
// started again without it, does not remove what a --profile up started
// (stop or down does).
func (p *planner) removedServices() {
	for _, name := range slices.Sorted(maps.Keys(p.replicas)) {
		if _, ok := p.desired.Services[name]; ok || slices.Contains(p.desired.Disabled, name) {
			continue
		}
		p.add(Step{Action: ActionRemove, Service: name, Replicas: sortedKeys(p.replicas[name]), Causes: []string{p.goneCause}})
	}
}

// decision is what happens to one replica.
type decision struct {
	action    Action
	causes    []string
	notBefore time.Time
	fresh     bool
	waiting   bool // Step.Waiting
}

// service plans one desired service, replica by replica.
func (p *planner) service(name string, s *spec.Service) {
	n := max(s.Replicas, 1)
	obs := p.replicas[name]
	hash := serviceHash(s)
	if len(obs) == 0 {
		p.add(Step{Action: ActionStart, Service: name, Replicas: seq(1, n), Causes: []string{"new service"}})
		return
	}
	dec := map[int]decision{}
	var missing, extra []int
	for i := 1; i <= n; i++ {
		r, ok := obs[i]
		if !ok {
			missing = append(missing, i)
			continue
		}
		if d, ok := p.replica(s, r, hash); ok {
			dec[i] = d
		}
	}
	for _, i := range sortedKeys(obs) {
		if i > n {
			extra = append(extra, i)
		}
	}
	p.followDependencies(s, obs, dec)

	// Group replicas with the same decision into one step.
	var order []string
	groups := map[string]*Step{}
	for _, i := range sortedKeys(dec) {
		d := dec[i]
		key := fmt.Sprint(d.action, "\x00", strings.Join(d.causes, "\x00"), "\x00", d.notBefore, "\x00", d.fresh, "\x00", d.waiting)
		if groups[key] == nil {
			groups[key] = &Step{Action: d.action, Service: name, Causes: d.causes, NotBefore: d.notBefore, Fresh: d.fresh, Waiting: d.waiting}
			order = append(order, key)
		}
		groups[key].Replicas = append(groups[key].Replicas, i)
		if d.action == ActionRestart {
			p.restarted[name] = true
		}
	}
	for _, key := range order {
		st := groups[key]
		st.Partial = len(st.Replicas) != n
		p.add(*st)
	}

	scaleCause := fmt.Sprintf("replicas %d -> %d", len(obs), n)
	switch {
	case len(extra) > 0 && len(obs) > n:
		p.add(Step{Action: ActionScale, Service: name, Replicas: extra, From: len(obs), To: n, Causes: []string{scaleCause}})
	case len(extra) > 0:
		p.add(Step{Action: ActionRemove, Service: name, Replicas: extra, Partial: true,
			Causes: []string{fmt.Sprintf("replica number above replicas: %d", n)}})
	}
	switch {
	case len(missing) > 0 && len(obs) < n:
		p.add(Step{Action: ActionScale, Service: name, Replicas: missing, From: len(obs), To: n, Causes: []string{scaleCause}})
	case len(missing) > 0:
		p.add(Step{Action: ActionStart, Service: name, Replicas: missing, Partial: true, Causes: []string{"not running"}})
	}
}

// replica decides what happens to one recorded replica of a desired service.
func (p *planner) replica(s *spec.Service, r ReplicaState, hash string) (decision, bool) {
	if r.State == StateDead {
		// Nobody saw it exit, so the restart policy has nothing to go on;
		// `up` means running, and the executor removes the stale record first.
		return decision{action: ActionStart, causes: []string{"sandbox gone (stale record)"}}, true
	}
	if r.State == StateWaiting {
		// Not started yet: try again (the executor records it waiting
		// again while its depends_on condition does not hold). With the
		// same configuration that is no change, only a retry.
		if r.Hash != hash {
			causes, _ := changeCauses(r.Applied, s)
			return decision{action: ActionStart, causes: causes}, true
		}
		return decision{action: ActionStart, causes: []string{"waiting for " + r.Waiting}, waiting: true}, true
	}
	if p.up[r.Service] && !r.State.Alive() && (r.State == StateStopped || r.Hash == hash) {
		// An explicit `nucleus up` starts what does not run, like compose,
		// whatever the restart policy; a changed configuration is a restart
		// below (which starts afresh too).
		return decision{action: ActionStart, causes: []string{notRunningCause(r)}, fresh: true}, true
	}
	if r.State == StateStopped {
		// Stopped by the user (nucleus stop): it stays stopped, whatever the
		// files say, until nucleus start (it then starts with the new files),
		// except that restart: always starts it when a supervisor starts.
		if ok, why := ShouldRestart(s.Restart, ExitInfo{Code: r.ExitCode, ManualStop: true, SupervisorStart: p.supervisorStart}); ok {
			return decision{action: ActionStart, causes: []string{"stopped by the user; supervisor started, " + why}}, true
		}
		return decision{}, false
	}
	if r.Hash != hash {
		causes, live := changeCauses(r.Applied, s)
		if live && r.State.Alive() {
			return decision{action: ActionUpdate, causes: causes}, true
		}
		return decision{action: ActionRestart, causes: causes}, true
	}
	if p.recreate[r.Service] && r.State.Alive() && r.StartedAt.Before(p.recreateBefore) {
		return decision{action: ActionRestart, causes: []string{"up --force-recreate"}}, true
	}
	if r.State.Alive() && r.State != StateUnhealthy {
		return decision{}, false
	}
	ok, why := ShouldRestart(s.Restart, ExitInfo{
		Code:       r.ExitCode,
		Unhealthy:  r.State == StateUnhealthy,
		ManualStop: r.ManualStop || r.State == StateStopped,
		Restarts:   r.Restarts,
	})
	if !ok {
		return decision{}, false
	}
	if r.State.Alive() {
		return decision{action: ActionRestart, causes: []string{why}}, true
	}
	return decision{action: ActionStart, causes: []string{why}, notBefore: r.NextAttempt}, true
}

// notRunningCause says why a replica does not run, and where to look, for
// an up-start cause: a start that failed before the workload ran says so
// with its error (its exit code is ours, startFailureMeaning), not
// "exited", and its logs would be empty.
func notRunningCause(r ReplicaState) string {
	switch {
	case r.State == StateStopped:
		return "stopped by the user; nucleus up starts it"
	case r.StartError != "":
		return fmt.Sprintf("did not start (exit code %d, %s: %s); nucleus up tries again",
			r.ExitCode, startFailureMeaning(r.ExitCode), r.StartError)
	}
	return fmt.Sprintf("%s (exit code %d; its output: nucleus logs %s); nucleus up starts it", r.State, r.ExitCode, r.Service)
}

// followDependencies restarts the running replicas of s when a dependency
// it declares with restart: true is restarted by this plan.
func (p *planner) followDependencies(s *spec.Service, obs map[int]ReplicaState, dec map[int]decision) {
	var causes []string
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		if s.DependsOn[dep].Restart && p.restarted[dep] {
			causes = append(causes, "dependency "+dep+" restarted")
		}
	}
	if len(causes) == 0 {
		return
	}
	for i, r := range obs {
		if i > max(s.Replicas, 1) || !r.State.Alive() {
			continue
		}
		d, ok := dec[i]
		switch {
		case !ok:
			dec[i] = decision{action: ActionRestart, causes: causes}
		case d.action == ActionUpdate || d.action == ActionRestart:
			// The restart applies the live changes too.
			dec[i] = decision{action: ActionRestart, causes: append(slices.Clone(d.causes), causes...)}
		}
	}
}

// changeCauses lists the field-level causes of a configuration change and
// whether all of it can be applied in place.
func changeCauses(applied, desired *spec.Service) ([]string, bool) {
	if applied == nil {
		return []string{"configuration changed"}, false
	}
	changes := serviceDiff(applied, desired)
	live := len(changes) > 0
	var causes []string
	for _, c := range changes {
		causes = append(causes, c.cause())
		live = live && c.Live
	}
	if live && !liveOnly(applied, desired) {
		live = false
		causes = append(causes, "configuration changed")
	}
	if len(causes) == 0 {
		causes = []string{"configuration changed"}
	}
	return causes, live
}

// reattach re-attaches running replicas to recreated networks, unless this
// plan already restarts or removes them (which attaches them anew).
func (p *planner) reattach() {
	for _, net := range p.recreated {
		for _, name := range p.serviceOrder() {
			var reps []int
			for _, i := range sortedKeys(p.replicas[name]) {
				r := p.replicas[name][i]
				if !r.State.Alive() || p.touched[name][i] && p.hasRestartOrRemove(name, i) || !attachedTo(r, net) {
					continue
				}
				reps = append(reps, i)
			}
			if len(reps) > 0 {
				n := max(p.desired.Services[name].Replicas, 1)
				p.add(Step{Action: ActionReattach, Service: name, Network: net, Replicas: reps,
					Partial: len(reps) != n, Causes: []string{"network " + net + " recreated"}})
			}
		}
	}
}

func (p *planner) hasRestartOrRemove(service string, replica int) bool {
	for _, s := range p.steps {
		if s.Service == service && slices.Contains(s.Replicas, replica) &&
			(s.Action == ActionRestart || s.Action == ActionRemove || s.Action == ActionScale) {
			return true
		}
	}
	return false
}

func attachedTo(r ReplicaState, net string) bool {
	if slices.Contains(r.Networks, net) {
		return true
	}
	if r.Networks == nil && r.Applied != nil {
		_, ok := r.Applied.Networks[net]
		return ok
	}
	return false
}

// actionRank orders the steps of one service within a level.
var actionRank = map[Action]int{
	ActionRemove: 0, ActionScale: 1, ActionReattach: 2, ActionUpdate: 3, ActionRestart: 4, ActionStart: 5,
}

// ordered sorts the steps into execution order: phase, then level (reverse
// for stops), then service or network name.
func (p *planner) ordered() []Step {
	steps := slices.Clone(p.steps)
	slices.SortStableFunc(steps, func(a, b Step) int {
		if c := cmp.Compare(a.Phase(), b.Phase()); c != 0 {
			return c
		}
		lc := cmp.Compare(a.Level, b.Level)
		if a.Phase() == PhaseStop {
			lc = -lc
		}
		return cmp.Or(lc,
			cmp.Compare(a.Service, b.Service),
			cmp.Compare(actionRank[a.Action], actionRank[b.Action]),
			cmp.Compare(a.Network, b.Network),
			cmp.Compare(firstReplica(a), firstReplica(b)))
	})
	return steps
}

func firstReplica(s Step) int {
	if len(s.Replicas) == 0 {
		return 0
	}
	return s.Replicas[0]
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func sortedKeys[V any](m map[int]V) []int { return slices.Sorted(maps.Keys(m)) }

func sortedReplicas(m map[int]ReplicaState) []ReplicaState {
	var out []ReplicaState
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}
