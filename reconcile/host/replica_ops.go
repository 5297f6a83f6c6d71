package host

// The replica commands that act on running sandboxes directly, without the
// supervisor (nucleus kill, pause, unpause, top, stats, wait): they find
// the replicas by the state records and reach each sandbox by its ID.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/runtime"
)

// checkServices fails with an *UnknownServiceError naming the services
// the project does not have.
func checkServices(project string, services, known []string) error {
	var unknown []string
	for _, s := range services {
		if !slices.Contains(known, s) {
			unknown = append(unknown, s)
		}
	}
	if unknown == nil {
		return nil
	}
	slices.Sort(known)
	return &UnknownServiceError{Project: project, Unknown: unknown, Known: slices.Compact(known)}
}

// Replicas returns the records of the project's replicas of services (all
// when none is named), in service and replica order. known lists the
// project's services (from its files); nil takes those the records name.
// A named service the project lacks is an *UnknownServiceError.
func Replicas(root rootdir.Root, project string, services, known []string) ([]*reconcile.SandboxRecord, error) {
	recs, err := reconcile.NewStore(root).LoadSandboxes(project)
	if err != nil {
		return nil, err
	}
	if known == nil {
		for _, r := range recs {
			known = append(known, r.Service)
		}
	}
	if err := checkServices(project, services, known); err != nil {
		return nil, err
	}
	var out []*reconcile.SandboxRecord
	for _, r := range recs {
		if len(services) == 0 || slices.Contains(services, r.Service) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Running reports whether the replica's sandbox runs now.
func Running(rec *reconcile.SandboxRecord) bool {
	return rec.State.Alive() && rec.Alive()
}

// notRunning is the error for a replica that has no running sandbox.
func notRunning(rec *reconcile.SandboxRecord) error {
	return fmt.Errorf("%s of project %s is not running (state %s)", rec.Ident().Name(), rec.Project, rec.State)
}

// Kill sends sig to the replica's workload. The supervisor sees the exit
// as any other and applies the restart policy.
func Kill(root rootdir.Root, rec *reconcile.SandboxRecord, sig syscall.Signal) error {
	if !Running(rec) {
		return notRunning(rec)
	}
	sb, err := adopt(root, rec)
	if err != nil {
		return err
	}
	return sb.Signal(sig)
}

// Pause freezes every process of the replica (cgroup freezer).
func Pause(ctx context.Context, root rootdir.Root, rec *reconcile.SandboxRecord) error {
	if !Running(rec) {
		return notRunning(rec)
	}
	if err := runtime.Pause(ctx, root, rec.ID); err != nil {
		return fmt.Errorf("pause %s: %w", rec.Ident().Name(), err)
	}
	return nil
}

// Unpause thaws a paused replica.
func Unpause(root rootdir.Root, rec *reconcile.SandboxRecord) error {
	if !Running(rec) {
		return notRunning(rec)
	}
	if paused, err := runtime.Paused(root, rec.ID); err == nil && !paused {
		return fmt.Errorf("%s of project %s is not paused", rec.Ident().Name(), rec.Project)
	}
	if err := runtime.Unpause(root, rec.ID); err != nil {
		return fmt.Errorf("unpause %s: %w", rec.Ident().Name(), err)
	}
	return nil
}

// Top lists the processes of a running replica (its init left out).
func Top(root rootdir.Root, rec *reconcile.SandboxRecord) ([]runtime.TopProcess, error) {
	if !Running(rec) {
		return nil, notRunning(rec)
	}
	return runtime.Processes(root, rec.ID, rec.InitPID)
}

// ReplicaStats is one sample of a replica's usage (nucleus stats).
type ReplicaStats struct {
	Name        string    `json:"name"`
	Service     string    `json:"service"`
	Replica     int       `json:"replica"`
	At          time.Time `json:"time"`
	CPUPercent  float64   `json:"cpu_percent"` // of one CPU, since the previous sample
	CPUSeconds  float64   `json:"cpu_seconds"`
	MemoryBytes uint64    `json:"memory_bytes"`
	MemoryLimit uint64    `json:"memory_limit"` // 0: unlimited
	Pids        uint64    `json:"pids"`
	PidsLimit   uint64    `json:"pids_limit"` // 0: unlimited
	ReadBytes   uint64    `json:"block_read_bytes"`
	WriteBytes  uint64    `json:"block_write_bytes"`
	Paused      bool      `json:"paused"`
	// NoCgroup says why the replica has no cgroup (its figures then come
	// from /proc and no limit is enforced); "" when it has one.
	NoCgroup string `json:"no_cgroup,omitempty"`
}

// Stats samples a running replica's usage. prev (nil for the first)
// gives the CPU percentage over the time since it.
func Stats(root rootdir.Root, rec *reconcile.SandboxRecord, prev *ReplicaStats) (*ReplicaStats, error) {
	if !Running(rec) {
		return nil, notRunning(rec)
	}
	s, err := runtime.CgroupStats(root, rec.ID)
	var nc *runtime.NoCgroupError
	if errors.As(err, &nc) {
		s, err = runtime.ProcStats(rec.InitPID), nil
	}
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", rec.Ident().Name(), err)
	}
	out := &ReplicaStats{Name: rec.Ident().Name(), Service: rec.Service, Replica: rec.Replica, At: time.Now(),
		CPUSeconds: float64(s.CPUUsec) / 1e6, MemoryBytes: s.MemoryBytes, MemoryLimit: s.MemoryLimit,
		Pids: s.Pids, PidsLimit: s.PidsLimit}
	out.ReadBytes, out.WriteBytes = runtime.BlockIO(root, rec.ID, rec.InitPID)
	out.Paused, _ = runtime.Paused(root, rec.ID)
	if nc != nil {
		out.NoCgroup = nc.Why
	}
	if prev != nil {
		if dt := out.At.Sub(prev.At).Seconds(); dt > 0 && out.CPUSeconds >= prev.CPUSeconds {
			out.CPUPercent = 100 * (out.CPUSeconds - prev.CPUSeconds) / dt
		}
	}
	return out, nil
}

// WaitExit blocks until the replica rec names has exited (one that exited
// or was stopped returns at once; one still being created or waiting for
// a dependency is waited for) and returns its exit code from the
// supervisor's record. A replica restarted meanwhile counts as exited.
func WaitExit(ctx context.Context, root rootdir.Root, rec *reconcile.SandboxRecord) (int, error) {
	store := reconcile.NewStore(root)
	id := ""
	for {
		switch {
		case ended(rec):
			return rec.ExitCode, nil
		case Running(rec) && id == "":
			id = rec.ID
		case Running(rec) && rec.ID != id: // restarted between two looks
			return rec.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		next, err := store.LoadSandbox(rec.Project, rec.Service, rec.Replica)
		if err != nil {
			return 0, err
		}
		if next == nil { // removed (down): the code is unknown
			return 0, fmt.Errorf("%s of project %s was removed before its exit was recorded", rec.Ident().Name(), rec.Project)
		}
		rec = next
	}
}

// ended reports whether the replica's last sandbox has ended.
func ended(r *reconcile.SandboxRecord) bool {
	switch r.State {
	case reconcile.StateExited, reconcile.StateStopped, reconcile.StateBackoff, reconcile.StateCrashloop,
		reconcile.StateDead, reconcile.StateCorrupt:
		return true
	}
	return r.State.Alive() && !r.Alive()
}

// ProjectSummary is one project under the state root (nucleus ls).
type ProjectSummary struct {
	Name   string   `json:"name"`
	Status string   `json:"status"` // "running(2), exited(1)"
	Files  []string `json:"config_files"`
	Dir    string   `json:"dir,omitempty"`
	// Running counts the replicas whose sandbox runs now.
	Running int `json:"running"`
}

// Projects lists the projects with state under the root, by name.
// supervised says whether a project's supervisor runs: a replica whose
// sandbox is gone while its record still says it runs is then one whose
// exit the supervisor is recording (exited), else one that died unseen
// (dead).
func Projects(root rootdir.Root, supervised func(project string) bool) ([]ProjectSummary, error) {
	store := reconcile.NewStore(root)
	names, err := store.Projects()
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []ProjectSummary
	for _, n := range names {
		ps := ProjectSummary{Name: n}
		if pr, err := store.LoadProject(n); err == nil && pr != nil {
			ps.Files, ps.Dir = pr.Files, pr.Dir
		}
		recs, _ := store.LoadSandboxes(n) // a corrupt record is ps's to report
		counts := map[string]int{}
		for _, r := range recs {
			if r.Removed {
				continue
			}
			st := string(r.State)
			if r.State.Alive() && !r.Alive() {
				st = string(reconcile.StateDead)
				if supervised != nil && supervised(n) {
					st = string(reconcile.StateExited)
				}
			}
			if Running(r) {
				ps.Running++
				st = "running" // starting, healthy, ... as Compose counts them
			}
			counts[st]++
		}
		var parts []string
		for st, c := range counts {
			parts = append(parts, fmt.Sprintf("%s(%d)", st, c))
		}
		slices.Sort(parts)
		ps.Status = strings.Join(parts, ", ")
		if ps.Status == "" {
			ps.Status = "empty"
		}
		out = append(out, ps)
	}
	return out, nil
}

// CopyIn copies the host path src into the running replica at dst (see
// runtime.CopyIn); archive keeps uid/gid, shifted into its id range.
func CopyIn(root rootdir.Root, rec *reconcile.SandboxRecord, src, dst string, archive bool) error {
	if !Running(rec) {
		return notRunning(rec)
	}
	rr, err := runtime.ReadRecord(root, rec.ID)
	if err != nil {
		return fmt.Errorf("copy into %s: %w", rec.Ident().Name(), err)
	}
	return runtime.CopyIn(rec.InitPID, src, dst, runtime.CopyOptions{HostUID: rr.HostUID, Archive: archive})
}

// CopyOut copies src inside the running replica to the host path dst.
func CopyOut(rec *reconcile.SandboxRecord, src, dst string) error {
	if !Running(rec) {
		return notRunning(rec)
	}
	return runtime.CopyOut(rec.InitPID, src, dst)
}
