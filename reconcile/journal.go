package reconcile

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
)

// The supervisor's memory is the observed state; the store is its journal.
// Records are read once (ensureLoaded, at Adopt or the first pass) and
// from then on only written: every change is made in memory under sv.mu,
// then persist writes the latest state outside it, so no disk I/O holds
// the lock and an older state never lands after a newer one.

// ensureLoaded reads the project's records into memory, once.
func (sv *Supervisor) ensureLoaded() error {
	sv.loadMu.Lock()
	defer sv.loadMu.Unlock()
	if sv.loaded {
		return nil
	}
	recs, err := sv.Store.LoadSandboxes(sv.Project)
	if err != nil {
		return fmt.Errorf("load records of project %s: %w", sv.Project, err)
	}
	pr, err := sv.Store.LoadProject(sv.Project)
	if err != nil {
		return fmt.Errorf("load record of project %s: %w", sv.Project, err)
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.init()
	for _, rec := range recs {
		if _, ok := sv.records[rec.Ident()]; !ok { // a write of this process came first
			sv.records[rec.Ident()] = rec
		}
	}
	if sv.project == nil {
		sv.project = pr
	}
	sv.loaded = true
	return nil
}

// putLocked makes rec the replica's record in memory; sv.mu is held and
// persist writes it afterwards.
func (sv *Supervisor) putLocked(rec *SandboxRecord) {
	if rec.BootID == "" {
		rec.BootID = BootID()
	}
	sv.records[rec.Ident()] = rec
}

// record makes rec the replica's record and writes it.
func (sv *Supervisor) record(rec *SandboxRecord) error {
	sv.mu.Lock()
	sv.init()
	sv.putLocked(rec)
	sv.mu.Unlock()
	return sv.persist(rec.Ident())
}

// persist writes id's record as memory has it now, or removes it when
// memory has none. A failed write is remembered (unsaved) for saveUnsaved;
// a successful one leaves a stamp to notice later changes behind our back.
func (sv *Supervisor) persist(id Ident) error {
	sv.mu.Lock()
	sv.init()
	w := sv.writing[id]
	if w == nil {
		w = new(sync.Mutex)
		sv.writing[id] = w
	}
	sv.mu.Unlock()
	w.Lock() // one writer per record: each writes the latest state
	defer w.Unlock()
	sv.mu.Lock()
	rec := copyRecord(sv.records[id])
	sv.mu.Unlock()
	var (
		err   error
		stamp os.FileInfo
	)
	if rec == nil {
		err = sv.Store.RemoveSandbox(id.Project, id.Service, id.Index)
	} else if err = sv.Store.SaveSandbox(rec); err == nil {
		stamp, _ = sv.Store.sandboxStat(id)
	}
	sv.Events.observe(id, rec)
	sv.mu.Lock()
	if err != nil {
		sv.unsaved[id] = true
	} else {
		delete(sv.unsaved, id)
	}
	if stamp != nil {
		sv.stamps[id] = stamp
	} else {
		delete(sv.stamps, id)
	}
	sv.mu.Unlock()
	return err
}

// copyRecord is a copy of rec that its writer may encode while rec changes.
func copyRecord(rec *SandboxRecord) *SandboxRecord {
	if rec == nil {
		return nil
	}
	c := *rec
	c.Attachments = slices.Clone(rec.Attachments)
	return &c
}

// recordAgain writes the records that changed on disk since this
// supervisor wrote them (deleted, set aside as corrupt, rewritten): the
// journal says again what the supervisor knows. It compares file stamps
// only; the records are not read.
func (sv *Supervisor) recordAgain() {
	sv.mu.Lock()
	stamps := maps.Clone(sv.stamps)
	sv.mu.Unlock()
	for _, id := range slices.SortedFunc(maps.Keys(stamps), byName) {
		if now, err := sv.Store.sandboxStat(id); err == nil && sameFile(now, stamps[id]) {
			continue
		}
		logStepError("record "+id.String()+" again", sv.persist(id))
	}
}

func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

func byName(a, b Ident) int { return strings.Compare(a.Name(), b.Name()) }

// observe is the observed state from memory. A monitored replica is as
// its record in memory says (its exit may not be recorded yet: it is not
// stale); any other record is judged as the store's Observe judges it.
func (sv *Supervisor) observe() Observed {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.init()
	var o Observed
	ids := slices.Collect(maps.Keys(sv.records))
	slices.SortFunc(ids, func(a, b Ident) int {
		if a.Service != b.Service {
			return strings.Compare(a.Service, b.Service)
		}
		return a.Index - b.Index
	})
	for _, id := range ids {
		rec := sv.records[id]
		if r := sv.replicas[id]; r != nil && r.sb != nil {
			o.Replicas = append(o.Replicas, rec.ReplicaState())
			continue
		}
		rs, _ := observeRecord(rec)
		o.Replicas = append(o.Replicas, rs)
	}
	if sv.project != nil {
		o.Networks = slices.Clone(sv.project.Networks)
	}
	return o
}

// updateProject changes the project record in memory and writes it.
func (sv *Supervisor) updateProject(f func(pr *ProjectRecord)) error {
	if err := sv.ensureLoaded(); err != nil {
		return err
	}
	sv.projectWriting.Lock()
	defer sv.projectWriting.Unlock()
	sv.mu.Lock()
	if sv.project == nil {
		sv.project = &ProjectRecord{Name: sv.Project}
	}
	f(sv.project)
	pr := *sv.project
	pr.Files = slices.Clone(pr.Files)
	pr.Networks = slices.Clone(pr.Networks)
	pr.History = slices.Clone(pr.History)
	sv.mu.Unlock()
	return sv.Store.SaveProject(&pr)
}

// forget drops the memory of the project's records (Down removed them).
func (sv *Supervisor) forget() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	clear(sv.records)
	clear(sv.stamps)
	clear(sv.unsaved)
	sv.project = nil
}
