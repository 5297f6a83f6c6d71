package daemon

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/loader"
	"nucleus/reconcile"
	"nucleus/reconcile/api"
	"nucleus/spec"
)

// Conditions of a project, as in `nucleus status`.
const (
	Ready       = "Ready"       // the files on disk are applied and every replica runs
	Progressing = "Progressing" // a change is being applied, or replicas are starting
	Degraded    = "Degraded"    // the last apply failed, or replicas are not running
	Stalled     = "Stalled"     // no progress without a change: invalid files, refused by the policy, name conflict
)

// Revision names project content: its digest and, inside a git work tree,
// the commit it came from.
type Revision struct {
	Digest string    `json:"digest,omitempty"`
	Commit string    `json:"commit,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// Apply is one entry of a project's apply history.
type Apply struct {
	Revision
	Outcome    string  `json:"outcome"` // "applied", "failed"
	DurationMS float64 `json:"duration_ms"`
	Steps      int     `json:"steps"`
	Error      string  `json:"error,omitempty"`
}

// ProjectStatus is one project's line in `nucleus status`.
type ProjectStatus struct {
	Name      string   `json:"name"`
	Dir       string   `json:"dir,omitempty"`
	Managed   bool     `json:"managed"` // by the daemon
	Condition string   `json:"condition"`
	Reason    string   `json:"reason"`
	Message   string   `json:"message,omitempty"`
	Applied   Revision `json:"applied"`
	Attempted Revision `json:"attempted"`
	// Current is the digest of the files on disk now.
	Current  string  `json:"current_digest,omitempty"`
	Replicas int     `json:"replicas"`
	Running  int     `json:"running"`
	History  []Apply `json:"history"`
}

// DaemonStatus is the daemon line of `nucleus status`.
type DaemonStatus struct {
	Running   bool      `json:"running"`
	PID       int       `json:"pid,omitempty"`
	Watch     string    `json:"watch,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	Guard     string    `json:"guard,omitempty"`
}

// Report is everything `nucleus status` prints.
type Report struct {
	Daemon   *DaemonStatus   `json:"daemon"`
	Projects []ProjectStatus `json:"projects"`
}

// Status reads the state root (project records, sandbox records, the
// daemon's record) and the project files on disk. It needs no running
// daemon or supervisor.
func Status(root rootdir.Root) (*Report, error) {
	store := reconcile.NewStore(root)
	st, err := LoadState(root)
	if err != nil {
		return nil, err
	}
	names, err := store.Projects()
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	rep := &Report{Projects: []ProjectStatus{}}
	if st != nil {
		rep.Daemon = &DaemonStatus{Running: st.Running(), PID: st.PID, Watch: st.Watch, StartedAt: st.StartedAt, Guard: st.TreeGuard}
		for n := range st.Projects {
			set[n] = true
		}
		for n := range st.Conflicts {
			set[n] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(set)) {
		pr, err := store.LoadProject(name)
		if err != nil {
			return nil, err
		}
		recs, err := store.LoadSandboxes(name)
		if err != nil {
			return nil, err
		}
		in := ConditionInput{Record: pr, Sandboxes: recs}
		_, in.Supervised = api.Running(root, name)
		if st != nil {
			in.Daemon = st.Projects[name]
			in.DaemonRunning = st.Running()
			in.Conflict = st.Conflicts[name]
		}
		dir := ""
		if pr != nil {
			dir = pr.Dir
		}
		if in.Daemon != nil && in.Daemon.Dir != "" {
			dir = in.Daemon.Dir
		}
		in.Current = currentDigest(name, dir, pr, in.Daemon != nil)
		rep.Projects = append(rep.Projects, projectStatus(name, dir, in))
	}
	return rep, nil
}

// currentDigest is the content digest of the project's files on disk, over
// the same set a runner digests (project files, env files, profiles).
func currentDigest(name, dir string, pr *reconcile.ProjectRecord, managed bool) string {
	if dir == "" {
		return ""
	}
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	opts := LoadOptions(dir, name, Environ())
	if !managed && pr != nil && len(pr.Files) > 0 {
		opts = spec.LoadOptions{Files: pr.Files, WorkingDir: dir, ProjectDir: pr.Dir, ProjectName: name}
	}
	if p, err := loader.Load(loader.Options{LoadOptions: opts}); err == nil {
		set, _ := reconcile.WatchSet(p.Dir, p.WatchFiles)
		return reconcile.ContentDigest(set)
	}
	if managed {
		return digestOf(dir)
	}
	return "" // unknown: the files as given do not load
}

// ConditionInput is what a project's condition is computed from.
type ConditionInput struct {
	Record        *reconcile.ProjectRecord
	Sandboxes     []*reconcile.SandboxRecord
	Daemon        *ProjectState // nil: not managed by the daemon
	DaemonRunning bool
	Conflict      []string // directories claiming the name
	Current       string   // digest of the files on disk ("" unknown)
	// Supervised: the project's supervisor runs (holds its lock), so a
	// record still Creating is being created, not abandoned.
	Supervised bool
}

func projectStatus(name, dir string, in ConditionInput) ProjectStatus {
	ps := ProjectStatus{Name: name, Dir: dir, Managed: in.Daemon != nil, Current: in.Current, History: []Apply{}}
	ps.Condition, ps.Reason, ps.Message = Condition(in)
	commit := func(d string) string {
		if in.Daemon == nil {
			return ""
		}
		return in.Daemon.Commits[d]
	}
	for _, r := range in.Sandboxes {
		ps.Replicas++
		if r.State.Alive() && r.Alive() {
			ps.Running++
		}
	}
	if pr := in.Record; pr != nil {
		ps.Applied = Revision{Digest: pr.Digest, Commit: commit(pr.Digest), At: pr.AppliedAt}
		ps.Attempted = Revision{Digest: pr.AttemptDigest, Commit: commit(pr.AttemptDigest)}
		for _, h := range pr.History {
			a := Apply{Revision: Revision{Digest: h.Digest, Commit: commit(h.Digest), At: h.At},
				Outcome: "applied", DurationMS: float64(h.Duration.Microseconds()) / 1000, Steps: h.Steps, Error: h.Error}
			if h.Error != "" {
				a.Outcome = "failed"
			}
			ps.History = append(ps.History, a)
		}
		// The record keeps no attempt time: an attempt equal to the applied
		// revision happened then, a failed one is the newest history entry.
		if pr.AttemptDigest == pr.Digest {
			ps.Attempted.At = pr.AppliedAt
		} else if len(pr.History) > 0 && pr.History[0].Digest == pr.AttemptDigest {
			ps.Attempted.At = pr.History[0].At
		}
	}
	return ps
}

// Condition computes a project's condition, its reason (one CamelCase
// word) and a message. Pure: covered by table tests.
func Condition(in ConditionInput) (cond, reason, msg string) {
	pr := in.Record
	if len(in.Conflict) > 1 {
		return Stalled, "DuplicateName", "directories " + strings.Join(in.Conflict, ", ") + " all name this project; rename one (name: in its nucleus.yaml)"
	}
	if in.Daemon != nil && in.Daemon.LoadError != "" {
		running := "nothing runs"
		if pr != nil && pr.Digest != "" {
			running = "the last good configuration keeps running"
		}
		reason := "InvalidFiles"
		if strings.HasPrefix(in.Daemon.LoadError, PolicyDeniedPrefix) {
			reason = "PolicyDenied"
		}
		return Stalled, reason, in.Daemon.LoadError + " (" + running + ")"
	}
	if in.Daemon != nil && in.Daemon.Note != "" {
		if in.Daemon.Note == ErrTakenDown.Error() {
			return Stalled, "TakenDown", in.Daemon.Note
		}
		return Degraded, "SupervisorNotRunning", in.Daemon.Note
	}
	if pr == nil {
		if in.Daemon != nil && in.DaemonRunning {
			return Progressing, "FirstApply", "the daemon is bringing the project up"
		}
		return Progressing, "NoRecord", "no apply recorded yet"
	}
	if pr.LastError != "" {
		reason := "ApplyFailed"
		if pr.Digest == "" && pr.AttemptDigest != "" && len(pr.History) > 0 && pr.History[0].Steps == 0 {
			reason = "LastPassFailed"
		}
		return Degraded, reason, pr.LastError
	}
	if pr.Digest == "" {
		// The first pass is writing records but has not finished.
		return Progressing, "FirstApply", "the first apply is in progress"
	}
	var down, starting []string
	for _, r := range in.Sandboxes {
		n := r.Ident().Name()
		switch {
		case r.Creating && in.Supervised:
			starting = append(starting, n+" being created")
		case r.Creating:
			down = append(down, n+" dead (its supervisor went away while creating it)")
		case r.State == reconcile.StateStarting:
			starting = append(starting, n)
		case r.State == reconcile.StateWaiting && r.Permanent == "":
			// Its dependency may still come: the supervisor starts it then.
			starting = append(starting, n+" waiting for "+r.Waiting)
		case r.State == reconcile.StateWaiting:
			down = append(down, n+" will not start: dependency "+r.Permanent)
		case r.State.Alive() && !r.Alive():
			down = append(down, n+" dead")
		case r.State == reconcile.StateExited && r.ExitCode == 0,
			r.State == reconcile.StateStopped:
			// finished or stopped on request: as intended
		case !r.State.Alive():
			down = append(down, fmt.Sprintf("%s %s", n, r.State))
		case r.State == reconcile.StateUnhealthy:
			down = append(down, n+" unhealthy")
		}
	}
	if len(down) > 0 {
		return Degraded, "ReplicasNotRunning", strings.Join(down, ", ")
	}
	if in.Current != "" && pr.Digest != "" && in.Current != pr.Digest {
		if in.Daemon != nil && !in.DaemonRunning {
			return Progressing, "DaemonStopped", "the files changed since the last apply and the daemon is not running"
		}
		return Progressing, "FilesChanged", "the files changed since the last apply"
	}
	if len(starting) > 0 {
		return Progressing, "Starting", strings.Join(starting, ", ")
	}
	n := len(in.Sandboxes)
	if n == 1 {
		return Ready, "Applied", "1 replica, as the files say"
	}
	return Ready, "Applied", fmt.Sprintf("%d replicas, as the files say", n)
}
