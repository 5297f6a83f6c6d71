package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"nucleus/internal/atomicfile"
	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/runtime/cgroups"
)

// Record is what a supervisor keeps to re-attach to a sandbox after a
// restart (see Adopt). It is also written to Root.Run/sandboxes/<id>/record.json.
type Record struct {
	ID          string `json:"id"`
	Project     string `json:"project,omitempty"`
	Service     string `json:"service,omitempty"`
	PID         int    `json:"pid"`
	StartTime   uint64 `json:"start_time"` // of the init, /proc/PID/stat field 22
	Cgroup      string `json:"cgroup"`
	StateDir    string `json:"state_dir"`
	LogPath     string `json:"log_path,omitempty"`
	LandlockABI int    `json:"landlock_abi"`
	Seccomp     string `json:"seccomp"`
	HostUID     int    `json:"host_uid,omitempty"` // base of the private id range
	Workload    int    `json:"workload,omitempty"` // pid of the workload inside the sandbox
	Idmapped    bool   `json:"idmapped,omitempty"`
	// Writable is the root's writable layer: "upper" (Config.UpperDir on
	// disk), "tmpfs", or "" for a read-only root.
	Writable string `json:"writable,omitempty"`
	// Shifted is the shifted copy of the rootfs the sandbox runs on, where
	// the rootfs could not be idmapped (shifted.go).
	Shifted string `json:"shifted,omitempty"`
	// LimitsNotEnforced names the limits no cgroup enforces ("memory",
	// "cpus", "pids"; the sandbox has no cgroup) and NotEnforcedWhy says why.
	LimitsNotEnforced []string `json:"limits_not_enforced,omitempty"`
	NotEnforcedWhy    string   `json:"not_enforced_why,omitempty"`
}

// Record returns the sandbox's record.
func (s *Sandbox) Record() Record {
	r := Record{ID: s.id, Project: s.cfg.Project, PID: s.pid, StartTime: s.startTime, StateDir: s.dir,
		LandlockABI: s.landlockABI, Seccomp: s.seccompMode, HostUID: s.hostUID, Idmapped: s.idmapped, Writable: s.writable, Shifted: s.shifted}
	s.mu.Lock()
	r.Workload = s.workload
	if s.cg == nil {
		r.LimitsNotEnforced, r.NotEnforcedWhy = s.notEnforced, s.notEnforcedWhy
	}
	s.mu.Unlock()
	r.Service = s.cfg.Service.Name
	if s.cg != nil {
		r.Cgroup = s.cg.Group()
	}
	if s.cfg.Stdout == nil && !s.cfg.Terminal {
		r.LogPath = s.LogPath()
	}
	return r
}

func (s *Sandbox) writeRecord() error {
	b, _ := json.MarshalIndent(s.Record(), "", "  ")
	// Atomic: a crash mid-write must not leave a truncated record that
	// Adopt and down could no longer read.
	if err := atomicfile.WriteVolatile(filepath.Join(s.dir, "record.json"), b, 0o600); err != nil {
		return fmt.Errorf("write sandbox record: %w", err)
	}
	return nil
}

// ReadRecord loads the record of sandbox id from the state root.
func ReadRecord(root rootdir.Root, id string) (Record, error) {
	var r Record
	b, err := os.ReadFile(filepath.Join(sandboxDir(root.Run, id), "record.json"))
	if err != nil {
		return r, fmt.Errorf("read record of sandbox %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("decode record of sandbox %s: %w", id, err)
	}
	return r, nil
}

// Adopt re-attaches to a running sandbox from its record (a supervisor that
// was restarted). The init must still be the same process (pid and start
// time); if it has exited meanwhile, Wait returns the recorded exit status.
// Start and Exec-less control are not available on an adopted sandbox: its
// workload runs already.
func Adopt(root rootdir.Root, rec Record) (*Sandbox, error) {
	if !validID.MatchString(rec.ID) {
		return nil, fmt.Errorf("adopt: invalid sandbox id %q", rec.ID)
	}
	s := &Sandbox{id: rec.ID, root: root, dir: sandboxDir(root.Run, rec.ID), pid: rec.PID, startTime: rec.StartTime,
		seccompMode: rec.Seccomp, landlockABI: rec.LandlockABI, hostUID: rec.HostUID, idmapped: rec.Idmapped, writable: rec.Writable, shifted: rec.Shifted,
		done: make(chan struct{}), started: true, workload: rec.Workload}
	s.cfg.Root, s.cfg.ID, s.cfg.Project = root, rec.ID, rec.Project
	if _, err := os.Stat(s.dir); err != nil {
		return nil, fmt.Errorf("adopt %s: state directory: %w", rec.ID, err)
	}
	s.notEnforced, s.notEnforcedWhy = rec.LimitsNotEnforced, rec.NotEnforcedWhy
	if rec.Cgroup != "" || cgroups.Enabled() {
		cg, err := cgroups.Load(root, rec.ID)
		if err != nil {
			return nil, fmt.Errorf("adopt %s: %w", rec.ID, err)
		}
		s.cg = cg
		cg.WatchOOM()
	}
	if rec.LogPath == "" {
		s.cfg.Stdout = os.Stdout // not logged by the init
	} else {
		s.cfg.LogDir = filepath.Dir(rec.LogPath)
	}
	return s, nil
}

// RemoveAbandoned removes sandbox id whose creator died (a one-off run
// killed with SIGKILL). With a record it is adopted and removed. Without
// one the creator died inside Create, before writing it; with one that can
// no longer be adopted it died inside Remove (the cgroup already gone in
// some hierarchies). Either way its init died with it (DieWithCaller), and
// what can remain goes by id: the cgroup, with anything that got into it,
// and the state directory.
func RemoveAbandoned(ctx context.Context, root rootdir.Root, id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("remove sandbox: invalid id %q", id)
	}
	dir := sandboxDir(root.Run, id)
	rec, err := ReadRecord(root, id)
	switch {
	case err == nil:
		sb, aerr := Adopt(root, rec)
		if aerr == nil {
			return sb.Remove(ctx)
		}
		if st, perr := procstat.StartTime(rec.PID); perr == nil && st == rec.StartTime {
			return aerr // its init still runs: leave everything for a look
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return err // a record that cannot be read: keep everything for a look
	}
	if err := cgroups.Purge(ctx, root, id); err != nil {
		return fmt.Errorf("remove sandbox %s: %w", id, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove state of %s: %w", id, err)
	}
	return nil
}
