package reconcile

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"nucleus/internal/procstat"
	"nucleus/spec"
)

// ReplicaStatus is one row of `nucleus ps`: what the state record says about
// a replica, checked against the process table, plus what the runtime can
// tell about it (usage from its cgroup, confinement).
type ReplicaStatus struct {
	Service string   `json:"service"`
	Replica int      `json:"replica"`
	Name    string   `json:"name"` // "web-1"
	State   RunState `json:"state"`
	PID     int      `json:"pid"` // host PID of the sandbox init; 0 when not running
	// Health is healthy, unhealthy or starting for a service with a health
	// check, "" without one.
	Health   string   `json:"health"`
	Restarts int      `json:"restarts"`
	ExitCode *int     `json:"exit_code"` // nil while it has not exited
	IP       string   `json:"ip"`
	Ports    []string `json:"ports"`
	// Hash is the configuration the replica runs; DesiredHash what the files
	// say now ("" when they do not load); UpToDate compares the two.
	Hash        string    `json:"hash"`
	DesiredHash string    `json:"desired_hash,omitempty"`
	UpToDate    bool      `json:"up_to_date"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	UptimeSec   float64   `json:"uptime_seconds,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Error is why the last start failed ("" when it started).
	Error string `json:"error,omitempty"`
	// Permanent says why the last failure will repeat on every retry (a
	// published port taken, no free address, command not found); "" when
	// a retry may help. For a waiting replica: why its dependency will
	// not come.
	Permanent string `json:"permanent,omitempty"`
	// WaitingFor says what a waiting replica waits for (its depends_on
	// condition and the dependency's state).
	WaitingFor string `json:"waiting_for,omitempty"`
	// OOMKills counts processes the memory limit killed: live for a
	// running replica, at its exit for an exited one.
	OOMKills uint64 `json:"oom_kills"`
	// Image and ImageDigest are the reference and manifest digest the
	// replica runs ("" for a service without an image).
	Image       string `json:"image,omitempty"`
	ImageDigest string `json:"image_digest,omitempty"`
	Usage       *Usage `json:"usage,omitempty"`
	// Paused: nucleus pause froze the replica (cgroup freezer).
	Paused      bool   `json:"paused,omitempty"`
	LandlockABI int    `json:"landlock_abi"`
	Seccomp     string `json:"seccomp,omitempty"`
	// LimitsNotEnforced names the replica's limits that no cgroup enforces
	// ("memory", "cpus", "pids": it has none, e.g. rootless on a hybrid
	// host), NotEnforcedWhy says why.
	LimitsNotEnforced []string `json:"limits_not_enforced,omitempty"`
	NotEnforcedWhy    string   `json:"not_enforced_why,omitempty"`
	// Labels are the service's labels: metadata, so what the files say
	// now (a change restarts nothing), else what the replica started with.
	Labels map[string]string `json:"labels,omitempty"`
}

// Usage is what the cgroup says a running replica uses.
type Usage struct {
	CPUSeconds  float64 `json:"cpu_seconds"`
	MemoryBytes uint64  `json:"memory_bytes"`
	MemoryLimit uint64  `json:"memory_limit,omitempty"`
	Pids        uint64  `json:"pids"`
}

// Inspector fills in what only the runtime knows about a running replica
// (reconcile/host implements it over the runtime package).
type Inspector func(rec *SandboxRecord, st *ReplicaStatus)

// Status lists the project's replicas from the state records, sorted by
// service and replica. Records whose sandbox died unseen show as dead.
// desired (may be nil) is what the files say now, for the hash column;
// inspect (may be nil) adds usage and confinement.
func (s *Store) Status(project string, desired *spec.Project, inspect Inspector, now time.Time) ([]ReplicaStatus, error) {
	return s.StatusCurrent(project, desired, inspect, now, nil)
}

// StatusCurrent is Status with the records passed through current first
// (nil: as read; a running supervisor's Current). A non-nil current means
// that supervisor runs: a record still Creating is then being created
// (StateCreating); read without one, it was abandoned (StateDead).
func (s *Store) StatusCurrent(project string, desired *spec.Project, inspect Inspector, now time.Time,
	current func([]*SandboxRecord) []*SandboxRecord) ([]ReplicaStatus, error) {
	recs, err := s.LoadSandboxes(project)
	if err != nil {
		return nil, err
	}
	if current != nil {
		recs = current(recs)
	}
	boot := BootID()
	out := make([]ReplicaStatus, 0, len(recs))
	for _, r := range recs {
		if r.Removed {
			continue // nucleus rm
		}
		st := ReplicaStatus{
			Service: r.Service, Replica: r.Replica, Name: Ident{Service: r.Service, Index: r.Replica}.Name(),
			State: r.State, Restarts: r.Restart.Total, Hash: r.Hash, NextAttempt: r.Restart.NextAttempt,
			Error: r.Error, Permanent: r.Permanent, WaitingFor: r.Waiting,
		}
		alive := r.BootID == boot && procstat.Alive(r.InitPID, r.InitStart)
		switch {
		case r.Creating && current != nil:
			// Its supervisor runs and has not created the sandbox yet.
			st.State = StateCreating
		case r.State.Alive() && !alive: // or abandoned while being created
			st.State = StateDead
		}
		if st.State.Alive() {
			st.PID = r.InitPID
			st.StartedAt = r.StartedAt
			if !r.StartedAt.IsZero() {
				st.UptimeSec = now.Sub(r.StartedAt).Round(time.Second).Seconds()
			}
		} else if r.State != StateStopped && !r.ExitedAt.IsZero() {
			code := r.ExitCode
			st.ExitCode = &code
			st.OOMKills = r.OOMKills
		}
		if r.Applied != nil {
			st.Image, st.ImageDigest = r.Applied.Image, r.Applied.ImageDigest
			if r.Applied.Healthcheck != nil {
				switch st.State {
				case StateHealthy, StateUnhealthy:
					st.Health = string(st.State)
				case StateCreating, StateStarting, StateRunning:
					st.Health = "starting"
				}
			}
			for _, p := range publishedPorts(r) {
				st.Ports = append(st.Ports, FormatPort(p))
			}
			st.Labels = r.Applied.Labels
		}
		if len(r.Attachments) > 0 {
			st.IP = r.Attachments[0].IP
		}
		if desired != nil {
			if ds := desired.Services[r.Service]; ds != nil {
				st.DesiredHash = serviceHash(ds)
				st.UpToDate = st.DesiredHash == r.Hash
				st.Labels = ds.Labels
			}
		}
		if inspect != nil {
			inspect(r, &st)
		}
		out = append(out, st)
	}
	return s.withCorrupt(project, out)
}

// withCorrupt adds a row for every record that was set aside and that no
// good record (a supervisor's new one) replaced.
func (s *Store) withCorrupt(project string, rows []ReplicaStatus) ([]ReplicaStatus, error) {
	bad, err := s.Corrupt(project)
	if err != nil {
		return rows, err
	}
	for _, c := range bad {
		if slices.ContainsFunc(rows, func(r ReplicaStatus) bool { return r.Name == c.Name }) {
			continue
		}
		rows = append(rows, ReplicaStatus{Name: c.Name, State: StateCorrupt,
			Error: "record set aside as " + c.Path + ": " + c.Error})
	}
	return rows, nil
}

// FormatPort is the compose short form of a published port:
// "127.0.0.1:8080->80/tcp".
func FormatPort(p spec.Port) string {
	rng := func(a, b int) string {
		if b > a {
			return strconv.Itoa(a) + "-" + strconv.Itoa(b)
		}
		return strconv.Itoa(a)
	}
	proto := p.Protocol
	if proto == "" {
		proto = "tcp"
	}
	target := rng(p.Target, p.TargetEnd) + "/" + proto
	if p.Published == 0 {
		return target
	}
	return fmt.Sprintf("%s:%s->%s", p.HostIP, rng(p.Published, p.PublishedEnd), target)
}

// publishedPorts are the replica's ports as the file says, a port without
// a host port with the ephemeral one its network attachment reports (a
// port added in place shows without one until the replica's next start).
func publishedPorts(r *SandboxRecord) []spec.Port {
	out := slices.Clone(r.Applied.Ports)
	for i, p := range out {
		if p.Published != 0 || p.TargetEnd > p.Target {
			continue
		}
		for _, a := range r.Attachments {
			for _, q := range a.Ports {
				if q.Target == p.Target && q.Protocol == p.Protocol && q.HostIP == p.HostIP && q.Published != 0 {
					out[i].Published, out[i].PublishedEnd = q.Published, q.PublishedEnd
				}
			}
		}
	}
	return out
}
