// Package imagelease answers the image store's question "does the holder of
// this lease still run?" (store.Prune's alive function). A holder is a
// sandbox ID: a replica's (PROJECT.SERVICE.N) or a `nucleus run`'s.
package imagelease

import (
	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/reconcile/api"
	"nucleus/reconcile/oneoff"
	"nucleus/runtime"
)

// Alive returns the liveness check of lease holders under root. A holder
// is alive while its sandbox's init runs; before the sandbox exists and
// after it is gone, while its owner may still use the tree: a replica's
// project supervisor runs (it leases before it creates and releases after
// it removes), or a run's `nucleus run` process lives. It errs on the side
// of alive: a record it cannot read counts as gone only when no owner runs.
func Alive(root rootdir.Root) func(holder string) bool {
	return func(holder string) bool {
		if rec, err := runtime.ReadRecord(root, holder); err == nil && rec.PID > 0 && procstat.Alive(rec.PID, rec.StartTime) {
			return true
		}
		if id, ok := reconcile.ParseID(holder); ok {
			_, running := api.Running(root, id.Project)
			return running
		}
		return oneoff.Owned(root, holder)
	}
}
