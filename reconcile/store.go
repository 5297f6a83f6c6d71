package reconcile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/spec"
)

// Store keeps crash-safe state records under <Root.Run>/projects/<project>/:
// project.json, and sandboxes/<service>-<replica>.json for every replica.
// Every write is atomic, so a supervisor killed at any moment leaves records
// that are either the old or the new version, never a torn one.
type Store struct {
	dir string
}

// NewStore returns the store of a state root.
func NewStore(root rootdir.Root) *Store {
	return &Store{dir: filepath.Join(root.Run, "projects")}
}

// ProjectRecord is what the supervisor remembers about a project.
type ProjectRecord struct {
	Name  string   `json:"name"`
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
	// Digest is the content digest of the files last applied successfully.
	Digest    string    `json:"digest,omitempty"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
	// AttemptDigest is the digest of the last attempt (= Digest unless it failed).
	AttemptDigest string    `json:"attempt_digest,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
	// Networks are the project networks as last ensured.
	Networks []NetworkState `json:"networks,omitempty"`
	// History holds the last applies (newest first) that did something or failed.
	History []ApplyRecord `json:"history,omitempty"`
}

// Attachment is a sandbox's attachment to one project network.
type Attachment struct {
	Network   string `json:"network"`
	IP        string `json:"ip,omitempty"`
	Gateway   string `json:"gateway,omitempty"`
	Interface string `json:"interface,omitempty"`
	// Ports are the ports published through this network, a port without
	// a host port with the ephemeral one picked for it (ps, nucleus port).
	Ports []spec.Port `json:"ports,omitempty"`
}

// SandboxRecord is the record of one sandbox replica: enough to adopt it
// after a supervisor restart (same PID) or to clean it up when it is dead.
type SandboxRecord struct {
	Project string `json:"project"`
	Service string `json:"service"`
	Replica int    `json:"replica"`
	ID      string `json:"id"` // runtime sandbox ID

	// InitPID and InitStart identify the sandbox init; BootID the boot it
	// ran in. A different start time means the PID was reused.
	InitPID   int    `json:"init_pid"`
	InitStart uint64 `json:"init_start"`
	BootID    string `json:"boot_id"`

	Attachments []Attachment `json:"attachments,omitempty"`

	// Hash and Applied are the configuration the replica runs.
	Hash    string        `json:"hash"`
	Applied *spec.Service `json:"-"`

	State      RunState     `json:"state"`
	ExitCode   int          `json:"exit_code,omitempty"`
	ManualStop bool         `json:"manual_stop,omitempty"`
	Restart    RestartState `json:"restart"`
	StartedAt  time.Time    `json:"started_at,omitzero"`
	ExitedAt   time.Time    `json:"exited_at,omitzero"`
	// OOMKills is the sandbox's OOM kill count when it exited.
	OOMKills uint64 `json:"oom_kills,omitempty"`
	// Error is why the last start failed (no sandbox then: InitPID is 0).
	Error string `json:"error,omitempty"`
	// Permanent says why the last start or exit will repeat on every retry
	// ("" when a retry may help): see classifyStartFailure. For a waiting
	// replica: why its dependency will not come (exited for good).
	Permanent string `json:"permanent,omitempty"`
	// Creating marks the intent record written before the sandbox is
	// created: while it is set, host objects named by ID may exist
	// (state directory, cgroup, init, network attachments) that no other
	// record names yet. A supervisor killed meanwhile leaves it set, and
	// the next one cleans them up by ID (see Runtime.Cleanup).
	Creating bool `json:"creating,omitempty"`
	// Waiting says what a replica in state waiting waits for: its
	// depends_on condition ("db-1 to be healthy (now: backoff)").
	Waiting string `json:"waiting_for,omitempty"`
	// Removed: nucleus rm removed this stopped or exited replica: ps no
	// longer lists it, and it stays as it is (not started by a pass) until
	// up creates it anew.
	Removed bool `json:"removed,omitempty"`
}

// appliedJSON carries the fields of spec.Service that its JSON form leaves
// out but the hash covers, so a reloaded record diffs and hashes like the
// service it was created from.
type appliedJSON struct {
	*spec.Service
	SeccompProfile []byte `json:"seccomp_profile_bytes,omitempty"`
}

type sandboxRecordJSON SandboxRecord // no methods: avoids MarshalJSON recursion

// MarshalJSON stores Applied with its hidden fields.
func (r SandboxRecord) MarshalJSON() ([]byte, error) {
	var a *appliedJSON
	if r.Applied != nil {
		a = &appliedJSON{Service: r.Applied, SeccompProfile: r.Applied.Security.SeccompProfile}
	}
	return json.Marshal(struct {
		sandboxRecordJSON
		Applied *appliedJSON `json:"applied,omitempty"`
	}{sandboxRecordJSON(r), a})
}

// UnmarshalJSON restores Applied with its hidden fields.
func (r *SandboxRecord) UnmarshalJSON(b []byte) error {
	var v struct {
		sandboxRecordJSON
		Applied *appliedJSON `json:"applied,omitempty"`
	}
	v.Applied = &appliedJSON{Service: &spec.Service{}}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = SandboxRecord(v.sandboxRecordJSON)
	if v.Applied != nil && v.Applied.Service != nil {
		r.Applied = v.Applied.Service
		r.Applied.Name = r.Service
		r.Applied.Security.SeccompProfile = v.Applied.SeccompProfile
	}
	return nil
}

// Alive reports whether the record's sandbox init is still running: same
// boot, same PID, same start time.
func (r *SandboxRecord) Alive() bool {
	return r.BootID == BootID() && procstat.Alive(r.InitPID, r.InitStart)
}

func (s *Store) projectDir(project string) string { return filepath.Join(s.dir, project) }

func (s *Store) sandboxPath(project, service string, replica int) string {
	return filepath.Join(s.sandboxDir(project), Ident{project, service, replica}.Name()+".json")
}

// SaveProject writes the project record.
func (s *Store) SaveProject(r *ProjectRecord) error {
	if r.Name == "" {
		return errors.New("save project record: empty project name")
	}
	return writeJSONAtomic(filepath.Join(s.projectDir(r.Name), "project.json"), r)
}

// LoadProject reads the project record; (nil, nil) when there is none, or
// when it could not be decoded and was set aside (the networks keep their
// own records, and the next apply writes it again).
func (s *Store) LoadProject(project string) (*ProjectRecord, error) {
	var r ProjectRecord
	ok, err := readRecord(filepath.Join(s.projectDir(project), "project.json"), "project", &r, nil)
	if !ok || err != nil {
		return nil, err
	}
	return &r, nil
}

// Projects lists the projects that have records, sorted.
func (s *Store) Projects() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list projects in %s: %w", s.dir, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// RemoveProject deletes every record of the project.
func (s *Store) RemoveProject(project string) error {
	if err := os.RemoveAll(s.projectDir(project)); err != nil {
		return fmt.Errorf("remove records of project %s: %w", project, err)
	}
	return nil
}

// SaveSandbox writes one replica's record (BootID is filled in when empty).
func (s *Store) SaveSandbox(r *SandboxRecord) error {
	if r.Project == "" || r.Service == "" || r.Replica < 1 {
		return fmt.Errorf("save sandbox record: project, service and replica >= 1 are required (got %q %q %d)", r.Project, r.Service, r.Replica)
	}
	if r.BootID == "" {
		r.BootID = BootID()
	}
	return writeJSONAtomic(s.sandboxPath(r.Project, r.Service, r.Replica), r)
}

// RemoveSandbox deletes one replica's record; a missing record is fine.
func (s *Store) RemoveSandbox(project, service string, replica int) error {
	err := os.Remove(s.sandboxPath(project, service, replica))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove sandbox record %s: %w", Ident{project, service, replica}, err)
	}
	return nil
}

// LoadSandboxes reads every replica record of a project, sorted by service
// and replica. Leftover temporary files of an interrupted write are ignored;
// a record that cannot be decoded is set aside (see setAside) and left out,
// so one bad file does not block the project.
func (s *Store) LoadSandboxes(project string) ([]*SandboxRecord, error) {
	dir := s.sandboxDir(project)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list sandbox records in %s: %w", dir, err)
	}
	var out []*SandboxRecord
	var errs []error
	for _, e := range ents {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		r, err := s.readSandbox(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r != nil {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *SandboxRecord) int {
		if a.Service != b.Service {
			return strings.Compare(a.Service, b.Service)
		}
		return a.Replica - b.Replica
	})
	return out, errors.Join(errs...)
}

// corruptSuffix is appended to a record that could not be decoded.
const corruptSuffix = ".corrupt"

func (s *Store) sandboxDir(project string) string {
	return filepath.Join(s.projectDir(project), "sandboxes")
}

// readSandbox reads one record: (nil, nil) when it is missing (removed
// between a listing and the read: a replica being replaced or taken down
// right now) or corrupt (then it is set aside).
func (s *Store) readSandbox(path string) (*SandboxRecord, error) {
	var r SandboxRecord
	ok, err := readRecord(path, "sandbox", &r, func() string { return checkSandbox(&r) })
	if !ok || err != nil {
		return nil, err
	}
	return &r, nil
}

// checkSandbox says what is wrong with a decoded sandbox record ("" if nothing).
func checkSandbox(r *SandboxRecord) string {
	if r.Service == "" || r.Replica < 1 {
		return fmt.Sprintf("not a sandbox record: service %q, replica %d (want a service and a replica >= 1)", r.Service, r.Replica)
	}
	return ""
}

// readRecord decodes the record at path into v; false when there is none,
// or when it cannot be decoded (or check, if not nil, finds it wrong) and
// was set aside. kind names the record in messages.
func readRecord(path, kind string, v any, check func() string) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s record: %w", kind, err)
	}
	if what := decodeRecord(b, kind, v, check); what != "" {
		return false, setAside(path, what)
	}
	return true, nil
}

// decodeRecord decodes b into v; it returns what is wrong, or "".
func decodeRecord(b []byte, kind string, v any, check func() string) string {
	if len(strings.TrimSpace(string(b))) == 0 {
		return "the file is empty"
	}
	if err := json.Unmarshal(b, v); err != nil {
		return "not a " + kind + " record: " + err.Error()
	}
	if check != nil {
		return check()
	}
	return ""
}

// setAside renames a record that cannot be decoded to <name>.corrupt: kept
// for a look, no longer read. A replica's sandbox, if one runs, is found by
// the runtime's own records (down) or recorded again by the supervisor that
// tracks it. One warning line says which file and what is wrong.
func setAside(path, what string) error {
	if err := os.Rename(path, path+corruptSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state record %s is corrupt (%s) and cannot be set aside: %w", path, what, err)
	}
	slog.Warn(fmt.Sprintf("state record %s is corrupt (%s); set aside as %s", path, what, filepath.Base(path)+corruptSuffix))
	return nil
}

// CorruptRecord is a record that was set aside because it could not be decoded.
type CorruptRecord struct {
	Name  string // the replica name the file was saved under ("web-1")
	Path  string // where it was set aside
	Error string // what is wrong with it
}

// Corrupt lists the project's records that were set aside, sorted.
func (s *Store) Corrupt(project string) ([]CorruptRecord, error) {
	dir := s.sandboxDir(project)
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"+corruptSuffix))
	if err != nil {
		return nil, fmt.Errorf("list corrupt records in %s: %w", dir, err)
	}
	var out []CorruptRecord
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		what := "unreadable"
		if err == nil {
			var r SandboxRecord
			what = decodeRecord(b, "sandbox", &r, func() string { return checkSandbox(&r) })
		}
		name := strings.TrimSuffix(filepath.Base(p), ".json"+corruptSuffix)
		out = append(out, CorruptRecord{Name: name, Path: p, Error: what})
	}
	return out, nil
}

// Observe loads a project's records as the observed state for Plan, and
// returns the stale ones separately: records whose sandbox died while the
// record said it was running (supervisor killed, PID reused) or that come
// from another boot. Stale replicas appear in Observed as StateDead so the
// plan restarts or removes them; their records stay on disk until the
// caller has cleaned up what they name. Exited replicas of this boot are
// observed as recorded, so the restart policy and back-off continue.
func (s *Store) Observe(project string) (Observed, []*SandboxRecord, error) {
	recs, err := s.LoadSandboxes(project)
	if err != nil {
		return Observed{}, nil, err
	}
	var o Observed
	var stale []*SandboxRecord
	for _, r := range recs {
		rs, dead := observeRecord(r)
		if dead {
			stale = append(stale, r)
		}
		o.Replicas = append(o.Replicas, rs)
	}
	pr, err := s.LoadProject(project)
	if err != nil {
		return o, stale, err
	}
	if pr != nil {
		o.Networks = slices.Clone(pr.Networks)
	}
	return o, stale, nil
}

// observeRecord is a record as observed: StateDead when it is stale.
func observeRecord(r *SandboxRecord) (ReplicaState, bool) {
	rs := r.ReplicaState()
	dead := r.BootID != BootID() || (r.State.Alive() && !procstat.Alive(r.InitPID, r.InitStart))
	if dead {
		rs.State = StateDead
	}
	return rs, dead
}

// CurrentPlan is the plan for p against what the state root records: what
// `nucleus plan` prints and what a supervisor pass would execute.
func CurrentPlan(root rootdir.Root, p *spec.Project) ([]Step, error) {
	o, _, err := NewStore(root).Observe(p.Name)
	if err != nil {
		return nil, err
	}
	return Plan(p, o), nil
}

// ReplicaState is the record as Plan sees it.
func (r *SandboxRecord) ReplicaState() ReplicaState {
	var nets []string
	for _, a := range r.Attachments {
		nets = append(nets, a.Network)
	}
	return ReplicaState{
		Service: r.Service, Replica: r.Replica, State: r.State, Hash: r.Hash, Applied: r.Applied,
		Networks: nets, ExitCode: r.ExitCode, ManualStop: r.ManualStop,
		Restarts: r.Restart.Restarts, NextAttempt: r.Restart.NextAttempt, Waiting: r.Waiting,
		StartedAt: r.StartedAt, StartError: r.Error,
	}
}

// Ident is the replica's identity. Its ID is not necessarily the record's
// ID: a sandbox keeps the ID it was created with (before Ident.ID existed,
// "<project>-<service>-<n>"), so the record's ID is the one to act on.
func (r *SandboxRecord) Ident() Ident {
	return Ident{Project: r.Project, Service: r.Service, Index: r.Replica}
}

// String names the record for logs: "shop/web-2 (pid 1234)".
func (r *SandboxRecord) String() string {
	return r.Ident().String() + " (pid " + strconv.Itoa(r.InitPID) + ")"
}

// sandboxStat is what a replica's record file is now (to notice a change
// made behind its writer's back without reading it).
func (s *Store) sandboxStat(id Ident) (os.FileInfo, error) {
	return os.Stat(s.sandboxPath(id.Project, id.Service, id.Index))
}

// LoadSandbox reads one replica's record; (nil, nil) when there is none
// (or it was corrupt and has been set aside).
func (s *Store) LoadSandbox(project, service string, replica int) (*SandboxRecord, error) {
	return s.readSandbox(s.sandboxPath(project, service, replica))
}
