// Package oneoff is the life cycle of a one-off sandbox (`nucleus run`)
// around its sandbox and networks: an owner record written before anything
// is created, so that a run killed with SIGKILL (no deferred cleanup runs)
// leaves something the next run can find and remove (Sweep).
//
// It joins runtime and network, which never import each other.
package oneoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"nucleus/internal/atomicfile"
	"nucleus/internal/flock"
	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/network"
	"nucleus/reconcile"
)

// Record is the owner record of one run: <Run>/runs/<ID>.json.
type Record struct {
	ID        string `json:"id"`         // the sandbox id (--name)
	PID       int    `json:"pid"`        // the `nucleus run` process
	StartTime uint64 `json:"start_time"` // of Pid, /proc/PID/stat field 22
	// Net is the network side to undo; nil for a run without networks.
	Net *network.RunRecord `json:"net,omitempty"`
}

// Run is a one-off sandbox's bookkeeping while its process lives.
type Run struct {
	root rootdir.Root
	rec  Record
	net  *network.RunSession
}

func runsDir(root rootdir.Root) string { return filepath.Join(root.Run, "runs") }

func recordPath(root rootdir.Root, id string) string {
	return filepath.Join(runsDir(root), id+".json")
}

// Begin records this process as the owner of sandbox id and, when netSpec
// is given, prepares and creates its networks. Call End when the sandbox is
// removed; if the process dies first, Sweep cleans up.
func Begin(ctx context.Context, root rootdir.Root, id string, netSpec *network.RunNetSpec) (*Run, error) {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return nil, fmt.Errorf("one-off sandbox name %q: want a plain name", id)
	}
	if _, ok := reconcile.ParseID(id); ok {
		// Replicas' sandboxes share the state root's namespace of IDs.
		return nil, fmt.Errorf("one-off sandbox name %q: PROJECT.SERVICE.N is the form of a project replica's sandbox ID; choose another name", id)
	}
	st, err := procstat.StartTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	r := &Run{root: root, rec: Record{ID: id, PID: os.Getpid(), StartTime: st}}
	if netSpec != nil {
		s, err := network.NewRunSession(root, *netSpec)
		if err != nil {
			return nil, err
		}
		r.net = s
		rec := s.Record()
		r.rec.Net = &rec
	}
	if err := r.claim(); err != nil {
		r.End(ctx) //nolint:errcheck // the claim's error is the one to report
		return nil, err
	}
	if r.net != nil {
		if err := r.net.Ensure(ctx); err != nil {
			return nil, errors.Join(err, r.End(ctx))
		}
	}
	return r, nil
}

// claim writes the owner record unless a live run owns the name, under the
// runs lock (see lockRuns).
func (r *Run) claim() error {
	unlock, err := lockRuns(r.root)
	if err != nil {
		return err
	}
	defer unlock()
	if old, err := readRecord(r.root, r.rec.ID); err == nil && old.alive() {
		return fmt.Errorf("--name %s: %w: a running `nucleus run` (pid %d) uses it", r.rec.ID, network.ErrNameTaken, old.PID)
	}
	return r.write()
}

// lockRuns serialises Sweep with claiming a name, across processes: a sweep
// that judged a run dead removes the sandbox of that name, so no new run of
// the name may record itself (and go on to create that sandbox) until the
// sweep is done. The lock goes with the returned function.
func lockRuns(root rootdir.Root) (func(), error) {
	if err := os.MkdirAll(root.Run, 0o711); err != nil {
		return nil, fmt.Errorf("one-off run records: %w", err)
	}
	// Beside runs/, not in it: like cgroups.lock, it stays with the root.
	unlock, err := flock.Lock(filepath.Join(root.Run, "runs.lock"), unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("lock one-off run records: %w", err)
	}
	return unlock, nil
}

// Net is the run's network session; nil without networks.
func (r *Run) Net() *network.RunSession { return r.net }

func (r *Run) write() error {
	if err := os.MkdirAll(runsDir(r.root), 0o700); err != nil {
		return fmt.Errorf("one-off run records: %w", err)
	}
	b, _ := json.MarshalIndent(r.rec, "", "  ")
	if err := atomicfile.WriteVolatile(recordPath(r.root, r.rec.ID), b, 0o600); err != nil {
		return fmt.Errorf("run record of %s: %w", r.rec.ID, err)
	}
	return nil
}

// End undoes the networks and drops the owner record; call it after the
// sandbox was removed (its namespace is gone before its links go).
func (r *Run) End(ctx context.Context) error {
	var err error
	if r.net != nil {
		err = r.net.Close(ctx)
	}
	if err == nil {
		// Kept on failure, so that Sweep tries again later.
		if rerr := os.Remove(recordPath(r.root, r.rec.ID)); rerr != nil && !os.IsNotExist(rerr) {
			err = fmt.Errorf("remove run record of %s: %w", r.rec.ID, rerr)
		}
	}
	return err
}

// alive reports whether the run's owner process still runs: same pid and
// start time (not a reused pid), and not a zombie waiting to be reaped.
func (rec Record) alive() bool { return procstat.Alive(rec.PID, rec.StartTime) }

// Owned reports whether the `nucleus run` that owns sandbox id still runs
// (its record names a live process): from before its sandbox exists until
// it has removed it. An image lease held under id lives that long.
func Owned(root rootdir.Root, id string) bool {
	rec, err := readRecord(root, id)
	return err == nil && rec.alive()
}
