package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"nucleus/internal/atomicfile"
	"nucleus/internal/flock"
)

// IDRegistryDir holds the host-wide leases of private id ranges: one file
// <base>.json per range naming the state root (its Data directory) and the
// project holding it, and a flock'ed file "lock" serialising allocations of
// every root on the host. A lease is live while its root's idranges.json
// still gives the range to that project; stale leases (the root was removed,
// e.g. a test's temporary root) are pruned by the next allocation. What stays
// on the host when no project holds a range: this directory and its lock file.
var IDRegistryDir = "/var/lib/nucleus-idmap"

type idLease struct {
	Base    uint32 `json:"base"`
	Data    string `json:"data"` // absolute Root.Data of the owner
	Project string `json:"project"`
}

// live reports whether the owner still holds the range. Unreadable tables
// count as live: a lease is only dropped when it is certainly unused.
func (l idLease) live() bool {
	r, err := readIDRanges(filepath.Join(l.Data, "idranges.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	b, ok := r.Projects[l.Project]
	return ok && b == l.Base
}

// idRegistry is the host-wide registry, locked while open.
type idRegistry struct {
	dir    string
	unlock func()
}

func openIDRegistry() (*idRegistry, error) {
	if err := os.MkdirAll(IDRegistryDir, 0o700); err != nil {
		return nil, fmt.Errorf("create id range registry: %w", err)
	}
	unlock, err := flock.Lock(filepath.Join(IDRegistryDir, "lock"), unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("id range registry: %w", err)
	}
	return &idRegistry{dir: IDRegistryDir, unlock: unlock}, nil
}

func (g *idRegistry) Close() error { g.unlock(); return nil }

func (g *idRegistry) file(base uint32) string {
	return filepath.Join(g.dir, strconv.FormatUint(uint64(base), 10)+".json")
}

func (g *idRegistry) read(base uint32) (idLease, bool, error) {
	var l idLease
	b, err := os.ReadFile(g.file(base))
	if errors.Is(err, fs.ErrNotExist) {
		return l, false, nil
	}
	if err != nil {
		return l, false, fmt.Errorf("read id range lease: %w", err)
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, false, fmt.Errorf("read id range lease %s: %w", g.file(base), err)
	}
	return l, true, nil
}

// ensure makes l the lease of its range; a live lease of another owner is a
// collision (two roots were given one range before the registry existed).
func (g *idRegistry) ensure(l idLease) error {
	cur, ok, err := g.read(l.Base)
	if err != nil {
		return err
	}
	if ok && cur == l {
		return nil
	}
	if ok && cur.live() {
		return fmt.Errorf("id range %d of project %s (%s) is also held by project %s of %s: remove one of them",
			l.Base, l.Project, l.Data, cur.Project, cur.Data)
	}
	b, _ := json.Marshal(l)
	if err := atomicfile.Write(g.file(l.Base), b, 0o600); err != nil {
		return fmt.Errorf("lease id range: %w", err)
	}
	return nil
}

// release removes l's lease if it is still l's.
func (g *idRegistry) release(l idLease) error {
	cur, ok, err := g.read(l.Base)
	if err != nil || !ok || cur != l {
		return err
	}
	if err := os.Remove(g.file(l.Base)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release id range: %w", err)
	}
	return nil
}

// allocate prunes stale leases and returns a free base; seed picks the
// first slot tried.
func (g *idRegistry) allocate(seed string) (uint32, error) {
	ents, err := os.ReadDir(g.dir)
	if err != nil {
		return 0, fmt.Errorf("list id range leases: %w", err)
	}
	used := map[uint32]bool{}
	for _, e := range ents {
		n, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), ".json"), 10, 32)
		if err != nil || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		l, ok, err := g.read(uint32(n))
		if err == nil && ok && !l.live() {
			if err := os.Remove(g.file(uint32(n))); err == nil {
				continue
			}
		}
		used[uint32(n)] = true // live, unreadable or not removable: keep out
	}
	taken := hostIDRanges()
	start := firstSlot(seed)
	for i := uint32(0); i < idSlots; i++ {
		base := uint32(idSpaceStart) + ((start+i)%idSlots)*IDRangeSize
		if !used[base] && !overlaps(taken, base) {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no free %d-id range left on this host", IDRangeSize)
}
