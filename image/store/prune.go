package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/atomicfile"
	"nucleus/internal/flock"
)

type usesRecord struct {
	Project string   `json:"project"`
	Refs    []string `json:"refs"`
}

// SetUses records that project uses refs (canonical forms), replacing what
// it used before.
func (s *Store) SetUses(project string, refs []string) error {
	b, err := json.Marshal(usesRecord{Project: project, Refs: refs})
	if err != nil {
		return err
	}
	unlock, err := s.lock("store.lock")
	if err != nil {
		return err
	}
	defer unlock()
	if err := atomicfile.Write(filepath.Join(s.Dir, "uses", sumOf(project)+".json"), b, 0o600); err != nil {
		return fmt.Errorf("image store: uses of project %s: %w", project, err)
	}
	return nil
}

// DropUses forgets what project uses.
func (s *Store) DropUses(project string) error {
	unlock, err := s.lock("store.lock")
	if err != nil {
		return err
	}
	defer unlock()
	err = os.Remove(filepath.Join(s.Dir, "uses", sumOf(project)+".json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("image store: uses of project %s: %w", project, err)
	}
	return nil
}

// users maps each reference to the projects that use it (sorted).
func (s *Store) users() (map[string][]string, error) {
	dir := filepath.Join(s.Dir, "uses")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	out := map[string][]string{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
		var u usesRecord
		if err := json.Unmarshal(b, &u); err != nil {
			return nil, fmt.Errorf("image store: %s: %w", e.Name(), err)
		}
		for _, r := range u.Refs {
			out[r] = append(out[r], u.Project)
		}
	}
	for _, ps := range out {
		sort.Strings(ps)
	}
	return out, nil
}

// Lease marks the tree at treeDir (as Tree returned it) as used by holder,
// a running sandbox; Prune and Remove keep it until Release, or until
// Prune's liveness check says the holder is gone.
func (s *Store) Lease(treeDir, holder string) error {
	d, err := s.leaseDir(treeDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d, 0o700); err != nil {
		return fmt.Errorf("image store: lease: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(d, sumOf(holder)), []byte(holder), 0o600); err != nil {
		return fmt.Errorf("image store: lease of %s for %s: %w", treeDir, holder, err)
	}
	return nil
}

// Release drops holder's lease on treeDir.
func (s *Store) Release(treeDir, holder string) error {
	d, err := s.leaseDir(treeDir)
	if err != nil {
		return err
	}
	err = os.Remove(filepath.Join(d, sumOf(holder)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("image store: release %s for %s: %w", treeDir, holder, err)
	}
	os.Remove(d) // only when empty
	return nil
}

func (s *Store) leaseDir(treeDir string) (string, error) {
	if filepath.Dir(filepath.Clean(treeDir)) != filepath.Join(s.Dir, "trees") {
		return "", fmt.Errorf("image store: lease: %s is not a tree of the store %s", treeDir, s.Dir)
	}
	return filepath.Join(s.Dir, "leases", filepath.Base(treeDir)), nil
}

// staleTemp is the age after which a lease's temp file is a dead
// writer's: a write takes microseconds.
const staleTemp = time.Minute

// liveLeases maps tree (chain ID hex) to its live holders; with alive set,
// the leases of holders it calls gone are removed.
func (s *Store) liveLeases(alive func(holder string) bool) (map[string][]string, error) {
	root := filepath.Join(s.Dir, "leases")
	trees, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	out := map[string][]string{}
	for _, t := range trees {
		hs, err := os.ReadDir(filepath.Join(root, t.Name()))
		if err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
		for _, h := range hs {
			p := filepath.Join(root, t.Name(), h.Name())
			if strings.HasPrefix(h.Name(), ".") {
				// A lease being written, or the temp file of a writer
				// killed before its rename: that one goes once it is
				// clearly not in progress.
				if fi, err := h.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
					os.Remove(p)
				}
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			if alive != nil && !alive(string(b)) {
				os.Remove(p)
				continue
			}
			out[t.Name()] = append(out[t.Name()], string(b))
		}
		if len(out[t.Name()]) == 0 {
			os.Remove(filepath.Join(root, t.Name()))
		}
	}
	return out, nil
}

// List returns every image with the projects that use it.
func (s *Store) List() ([]Image, error) {
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	users, err := s.users()
	if err != nil {
		return nil, err
	}
	out := make([]Image, len(recs))
	for i, r := range recs {
		r.Users = users[r.Ref]
		out[i] = *r
	}
	return out, nil
}

// Summary says what Prune or Remove deleted.
type Summary struct {
	Images []string // references
	Blobs  int
	Trees  int
	Bytes  int64 // of blobs
}

// Remove deletes the record of ref, then the blobs and trees no other
// image references and no sandbox leases. As `docker image rm`, it refuses
// a reference that a project uses unless force is set.
func (s *Store) Remove(ref string, force bool) (Summary, error) {
	unlock, err := s.lock("store.lock")
	if err != nil {
		return Summary{}, err
	}
	defer unlock()
	if _, err := s.readRecord(s.refPath(ref)); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Summary{}, fmt.Errorf("image %s: %w", ref, ErrNotFound)
		}
		return Summary{}, err
	}
	users, err := s.users()
	if err != nil {
		return Summary{}, err
	}
	if u := users[ref]; len(u) > 0 && !force {
		return Summary{}, fmt.Errorf("image %s is used by project %s: stop using it (down) or force the removal", ref, strings.Join(u, ", "))
	}
	if err := os.Remove(s.refPath(ref)); err != nil {
		return Summary{}, fmt.Errorf("image %s: %w", ref, err)
	}
	sum, err := s.collect(nil)
	sum.Images = []string{ref}
	return sum, err
}

// Prune removes images: without all those no project uses, with all every
// one; in both cases it keeps an image whose tree a live sandbox leases
// (alive says whether a holder still runs; nil counts every holder alive).
// Then it removes the blobs and trees nothing kept references, never a tree
// with a live lease.
func (s *Store) Prune(all bool, alive func(holder string) bool) (Summary, error) {
	unlock, err := s.lock("store.lock")
	if err != nil {
		return Summary{}, err
	}
	defer unlock()
	recs, err := s.records()
	if err != nil {
		return Summary{}, err
	}
	users, err := s.users()
	if err != nil {
		return Summary{}, err
	}
	leases, err := s.liveLeases(alive)
	if err != nil {
		return Summary{}, err
	}
	var removed []string
	for _, r := range recs {
		h, _ := hexOf(r.ChainID)
		if len(leases[h]) > 0 || (!all && len(users[r.Ref]) > 0) {
			continue
		}
		if err := os.Remove(s.refPath(r.Ref)); err != nil {
			return Summary{}, fmt.Errorf("image %s: %w", r.Ref, err)
		}
		removed = append(removed, r.Ref)
	}
	sum, err := s.collect(leases)
	sum.Images = removed
	return sum, err
}

// collect removes blobs and trees that no record references and no live
// lease holds (leases nil: read them, every holder counting as alive). It
// runs under store.lock and takes the gc lock, so it waits for pulls under
// way (which hold it shared until their record is written).
func (s *Store) collect(leases map[string][]string) (Summary, error) {
	unlockGC, err := s.lockGC(unix.LOCK_EX)
	if err != nil {
		return Summary{}, err
	}
	defer unlockGC()
	if leases == nil {
		if leases, err = s.liveLeases(nil); err != nil {
			return Summary{}, err
		}
	}
	recs, err := s.records()
	if err != nil {
		return Summary{}, err
	}
	blobs, trees := map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		for _, d := range append([]string{r.Manifest, r.Config}, layerDigests(r)...) {
			if h, err := hexOf(d); err == nil {
				blobs[h] = true
			}
		}
		if h, err := hexOf(r.ChainID); err == nil {
			trees[h] = true
		}
	}
	var sum Summary
	bdir := filepath.Join(s.Dir, "blobs", "sha256")
	ents, err := os.ReadDir(bdir)
	if err != nil {
		return sum, fmt.Errorf("image store: %w", err)
	}
	for _, e := range ents {
		if blobs[strings.TrimSuffix(e.Name(), ".partial")] || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if err := os.Remove(filepath.Join(bdir, e.Name())); err != nil {
			return sum, fmt.Errorf("image store: %w", err)
		}
		sum.Blobs++
		sum.Bytes += info.Size()
	}
	tdir := filepath.Join(s.Dir, "trees")
	ents, err = os.ReadDir(tdir)
	if err != nil {
		return sum, fmt.Errorf("image store: %w", err)
	}
	for _, e := range ents {
		// A shifted copy (<tree>.shift-<base>, made by the runtime where
		// the filesystem refuses idmapped mounts) belongs to its tree: the
		// sandboxes running on it lease the tree.
		h, _, shifted := strings.Cut(e.Name(), ".shift-")
		if isTemp(e.Name()) || trees[h] || len(leases[h]) > 0 {
			continue
		}
		if err := s.removeTree(filepath.Join(tdir, e.Name())); err != nil {
			return sum, fmt.Errorf("image store: remove tree %s: %w", e.Name(), err)
		}
		if !shifted {
			sum.Trees++
		}
	}
	// No pull or unpack runs while the gc lock is held exclusively, so no
	// one holds or waits on a blob's or tree's lock: their files can go.
	locks, _ := filepath.Glob(filepath.Join(s.Dir, "locks", "blob-*"))
	trees2, _ := filepath.Glob(filepath.Join(s.Dir, "locks", "tree-*"))
	for _, l := range append(locks, trees2...) {
		os.Remove(l)
	}
	return sum, nil
}

func layerDigests(r *Image) []string {
	out := make([]string, len(r.Layers))
	for i, l := range r.Layers {
		out[i] = l.Digest
	}
	return out
}

// PullLock is held (shared) by a pull from its first blob to its record,
// and by an unpack, so that a prune running meanwhile does not collect
// blobs or trees not yet recorded.
func (s *Store) PullLock() (func(), error) { return s.lockGC(unix.LOCK_SH) }

func (s *Store) lockGC(how int) (func(), error) {
	unlock, err := flock.Lock(filepath.Join(s.Dir, "locks", "gc.lock"), how)
	if err != nil {
		return nil, fmt.Errorf("image store gc lock: %w", err)
	}
	return unlock, nil
}
