package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/atomicfile"
	"nucleus/internal/flock"
	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
)

// State is the daemon's own record, <Run>/daemon/state.json: which
// projects it manages (and so may bring down), what it knows beyond the
// project records (load errors, git commits, name conflicts), and the
// tree-level guard. `nucleus status` reads it whether the daemon runs or not.
type State struct {
	PID       int       `json:"pid"`
	PIDStart  uint64    `json:"pid_start"`
	Watch     string    `json:"watch"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Stopped   bool      `json:"stopped,omitempty"` // the daemon exited cleanly
	// TreeGuard is set while the tree holds no project (or cannot be read)
	// but the daemon manages some: nothing is pruned.
	TreeGuard string `json:"tree_guard,omitempty"`
	// Projects are the projects the daemon manages, by name.
	Projects map[string]*ProjectState `json:"projects"`
	// Conflicts are project names claimed by more than one directory.
	Conflicts map[string][]string `json:"conflicts,omitempty"`
}

// ProjectState is what the daemon knows about one managed project.
type ProjectState struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
	// LoadError is set while the files do not load (the last good
	// configuration keeps running, or nothing if there never was one).
	LoadError string `json:"load_error,omitempty"`
	// Commits maps content digests to the git commit checked out when a
	// pass read them (only inside a git work tree).
	Commits       map[string]string `json:"commits,omitempty"`
	AttemptCommit string            `json:"attempt_commit,omitempty"`
	// Active is true while a runner reconciles the project; Note says why
	// not otherwise (a failed start, taken down by a client).
	Active bool   `json:"active"`
	Note   string `json:"note,omitempty"`
}

func stateDir(root rootdir.Root) string  { return filepath.Join(root.Run, "daemon") }
func statePath(root rootdir.Root) string { return filepath.Join(stateDir(root), "state.json") }

// LoadState reads the daemon's record; (nil, nil) when there is none.
func LoadState(root rootdir.Root) (*State, error) {
	b, err := os.ReadFile(statePath(root))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read daemon state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read daemon state %s: %w", statePath(root), err)
	}
	if s.Projects == nil {
		s.Projects = map[string]*ProjectState{}
	}
	return &s, nil
}

// Running reports whether the daemon that wrote the record is alive.
func (s *State) Running() bool {
	return s != nil && !s.Stopped && procstat.Alive(s.PID, s.PIDStart)
}

// save writes the record atomically (temp file, fsync, rename).
func (s *State) save(root rootdir.Root) error {
	s.UpdatedAt = time.Now()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	dir := stateDir(root)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write daemon state: %w", err)
	}
	if err := atomicfile.Write(statePath(root), b, 0o600); err != nil {
		return fmt.Errorf("daemon state: %w", err)
	}
	return nil
}

// lock takes the one-daemon-per-state-root lock without waiting; the
// returned function (or the process's death) releases it.
func lock(root rootdir.Root) (unlock func(), err error) {
	if err := os.MkdirAll(stateDir(root), 0o700); err != nil {
		return nil, fmt.Errorf("daemon lock: %w", err)
	}
	p := filepath.Join(stateDir(root), "lock")
	unlock, err = flock.Lock(p, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, fmt.Errorf("another nucleus daemon runs on state root %s (lock %s held)", root.Run, p)
	}
	if err != nil {
		return nil, fmt.Errorf("daemon lock: %w", err)
	}
	return unlock, nil
}
