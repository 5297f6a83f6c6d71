// Package cgroups puts a sandbox's processes into a cgroup and applies its
// resource limits (memory, CPU quota, pids), on cgroup v1 or v2 through
// containerd/cgroups/v3.
//
// A sandbox's cgroup is /nucleus-<rootID>/<sandbox-id> in every hierarchy
// used: the root's ID keeps state roots apart (tests run side by side), and
// Leaks finds everything a root left behind. Hosts in hybrid mode (v1
// controllers plus a controller-less v2 tree) are handled as v1: resource
// control only works where the controllers are.
//
// The workload's cgroup is joined by a thread (JoinFiles), which keeps
// the runtime's init out of the limits; on v2 that takes a threaded leaf,
// WorkloadLeaf.
//
// The tests are backend-neutral: the hybrid hosts run them on v1, `make
// test-v2` on a real v2 kernel (see README.md).
package cgroups

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/rootdir"

	"github.com/containerd/cgroups/v3"
)

// Stats are a sandbox's usage figures. Limits of 0 mean unlimited.
type Stats struct {
	CPUUsec     uint64 // CPU time used, user + system, in microseconds
	MemoryBytes uint64 // current memory usage (v1 includes page cache)
	MemoryLimit uint64
	Pids        uint64 // tasks (threads) of the workload's cgroup
	PidsLimit   uint64
	OOMKills    uint64 // processes the OOM killer killed under the memory limit
}

// backend is one cgroup version's implementation.
type backend interface {
	paths() map[string]string
	joinFiles() []string
	addProc(pid int) error
	update(r Resources) error
	stats() (Stats, error)
	oomKills() (uint64, error)
	procs() ([]int, error)
	killAll(ctx context.Context) error
	delete() error
}

// Cgroup is one sandbox's cgroup.
type Cgroup struct {
	id    string
	group string // "/nucleus-<rootID>/<id>", relative to each hierarchy's root
	root  rootdir.Root
	v2    bool
	b     backend
}

// Version-selection hooks; tests may point them at other places.
var (
	// mountBase is where the cgroup hierarchies are mounted.
	mountBase = "/sys/fs/cgroup"
	// useV2 decides between the v1 and v2 implementations.
	useV2 = func() bool { return cgroups.Mode() == cgroups.Unified }
)

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// parentName is the per-root directory under each hierarchy's root.
func parentName(root rootdir.Root) string { return "nucleus-" + root.ID() }

func groupPath(root rootdir.Root, id string) (string, error) {
	if !validID.MatchString(id) || len(id) > 200 {
		return "", fmt.Errorf("cgroup for sandbox %q: id must match %s", id, validID)
	}
	return "/" + parentName(root) + "/" + id, nil
}

// New creates the sandbox's cgroup (in every hierarchy needed) and applies r.
// An existing empty cgroup of the same name is reused; one that still holds
// processes (a sandbox left running by a crashed supervisor) is an error:
// adopt it with Load, or kill and delete it first.
func New(root rootdir.Root, id string, r Resources) (*Cgroup, error) {
	return NewFor(root, id, r, Unit{})
}

// NewFor is New with what the systemd manager needs: the init process it
// moves into the sandbox's scope (which therefore comes after the init:
// see CloneInto) and the names of the unit. The cgroupfs manager ignores u.
func NewFor(root rootdir.Root, id string, r Resources, u Unit) (*Cgroup, error) {
	group, err := groupPath(root, id)
	if err != nil {
		return nil, err
	}
	c := &Cgroup{id: id, group: group, root: root, v2: useV2()}
	unlock, err := lockParent(root)
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", group, err)
	}
	if manager == Systemd && c.v2 {
		var sb *systemdBackend
		sb, err = newSystemd(root, id, u, r)
		unlock()
		if err != nil {
			return nil, err
		}
		c.b, c.group = sb, sb.group
		if err := sb.updateThreaded(r); err != nil {
			kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = c.KillAll(kctx)
			cancel()
			_ = c.Delete()
			return nil, fmt.Errorf("create cgroup %s: apply limits: %w", c.group, err)
		}
		return c, nil
	}
	if manager == Systemd {
		unlock()
		return nil, fmt.Errorf("create cgroup %s: cgroup manager systemd needs a pure cgroup v2 host; use --cgroup-manager cgroupfs", group)
	}
	fresh := false
	if c.v2 {
		c.b, err = newV2(group)
	} else {
		c.b, fresh, err = newV1(group)
	}
	unlock()
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", group, err)
	}
	if fresh && r == (Resources{}) {
		// Made just now: no process inside, and the kernel's defaults are
		// what no limits means. Nothing to check or write (about 20
		// syscalls of every `nucleus run` without limits).
		return c, nil
	}
	if pids, err := c.b.procs(); err != nil || len(pids) > 0 {
		if err == nil {
			err = fmt.Errorf("already exists with processes %v", pids)
		}
		return nil, fmt.Errorf("create cgroup %s: %w", group, err)
	}
	if err := c.b.update(r); err != nil {
		_ = c.b.delete()
		return nil, fmt.Errorf("create cgroup %s: apply limits: %w", group, err)
	}
	return c, nil
}

// Load opens the existing cgroup of sandbox id (e.g. after a supervisor
// restart). It fails when the cgroup does not exist.
func Load(root rootdir.Root, id string) (*Cgroup, error) {
	group, err := groupPath(root, id)
	if err != nil {
		return nil, err
	}
	c := &Cgroup{id: id, group: group, root: root, v2: useV2()}
	if c.v2 {
		// The cgroupfs layout, else a systemd scope (whichever manager
		// created it: a daemon restarted with another manager adopts).
		c.b, err = loadV2(group)
		if err != nil {
			if sg, ok := findScope(root, id); ok {
				c.group = sg
				c.b, err = loadSystemd(root, id, sg)
			}
		}
	} else {
		c.b, err = loadV1(group)
	}
	if err != nil {
		return nil, fmt.Errorf("load cgroup %s: %w", group, err)
	}
	return c, nil
}

// V2 reports whether the cgroup lives in a unified (v2) hierarchy.
func (c *Cgroup) V2() bool { return c.v2 }

// Group is the cgroup's path relative to the hierarchy roots.
func (c *Cgroup) Group() string { return c.group }

// Paths maps each v1 controller to the cgroup's directory in it, or, on
// v2, "" to the one directory. A child can be placed by writing its pid to
// cgroup.procs in each (AddProc does that).
func (c *Cgroup) Paths() map[string]string { return c.b.paths() }

// CloneInto reports whether the sandbox cgroup exists before its init, which
// is then cloned into it (v2, CLONE_INTO_CGROUP). With the systemd manager
// the init comes first and its scope is created around it, as on v1 the
// cgroup follows the init.
func CloneInto() bool { return useV2() && manager != Systemd && manager != None }

// Enabled reports whether sandboxes get a cgroup (the manager is not None).
func Enabled() bool { return manager != None }

// Dir is the v2 sandbox cgroup directory (for CLONE_INTO_CGROUP: the
// init's place, outside the workload leaf), "" on v1.
func (c *Cgroup) Dir() string {
	if !c.v2 {
		return ""
	}
	return c.b.paths()[""]
}

// JoinFiles are the files through which a thread joins the workload's
// cgroup alone, by writing "0" to each: v1 each controller's "tasks", v2
// the workload leaf's "cgroup.threads" (see WorkloadLeaf). The init's
// spawner thread joins this way; what it forks is born there.
func (c *Cgroup) JoinFiles() []string { return c.b.joinFiles() }

// AddProc moves process pid (all its threads) into the workload's cgroup.
func (c *Cgroup) AddProc(pid int) error {
	if err := c.b.addProc(pid); err != nil {
		return fmt.Errorf("add pid %d to cgroup %s: %w", pid, c.group, err)
	}
	return nil
}

// Update changes the limits of a live cgroup; zero values mean unlimited.
func (c *Cgroup) Update(r Resources) error {
	if err := c.b.update(r); err != nil {
		return fmt.Errorf("update cgroup %s: %w", c.group, err)
	}
	return nil
}

// Stats reads the current usage figures.
func (c *Cgroup) Stats() (Stats, error) {
	s, err := c.b.stats()
	if err != nil {
		return Stats{}, fmt.Errorf("stats of cgroup %s: %w", c.group, err)
	}
	return s, nil
}

// OOMKilled reports whether the kernel's OOM killer has killed a process of
// this cgroup because of its memory limit.
func (c *Cgroup) OOMKilled() (bool, error) {
	n, err := c.OOMKills()
	return n > 0, err
}

// OOMKills counts the processes the OOM killer killed in this cgroup
// because of its memory limit (v2 memory.events, v1 memory.oom_control
// oom_kill), whichever process it was.
func (c *Cgroup) OOMKills() (uint64, error) {
	n, err := c.b.oomKills()
	if err != nil {
		return 0, fmt.Errorf("oom state of cgroup %s: %w", c.group, err)
	}
	return n, nil
}

// Procs lists the pids in the cgroup (and any sub-cgroups).
func (c *Cgroup) Procs() ([]int, error) {
	p, err := c.b.procs()
	if err != nil {
		return nil, fmt.Errorf("processes of cgroup %s: %w", c.group, err)
	}
	return p, nil
}

// KillAll SIGKILLs every process in the cgroup, including ones that fork
// meanwhile, and returns once the cgroup is empty (or ctx ends).
func (c *Cgroup) KillAll(ctx context.Context) error {
	if err := c.b.killAll(ctx); err != nil {
		return fmt.Errorf("kill processes of cgroup %s: %w", c.group, err)
	}
	return nil
}

// Delete removes the cgroup, and the per-root parent when nothing else of
// this root is left in it. The cgroup must be empty (see KillAll).
func (c *Cgroup) Delete() error {
	unlock, err := lockParent(c.root)
	if err != nil {
		return fmt.Errorf("delete cgroup %s: %w", c.group, err)
	}
	defer unlock()
	if err := c.b.delete(); err != nil {
		return fmt.Errorf("delete cgroup %s: %w", c.group, err)
	}
	return nil
}

// parentOf is the per-root directory containing a cgroup directory.
func parentOf(dir string) string { return filepath.Dir(dir) }

// Purge kills whatever runs in sandbox id's cgroup and removes the cgroup
// wherever it exists. It is for a sandbox whose creator died without
// removing it and without a usable record: its cgroup may exist in full, in
// some v1 hierarchies only (a creator killed inside New or Delete), or not
// at all (nothing to do).
func Purge(ctx context.Context, root rootdir.Root, id string) error {
	c, err := Load(root, id)
	if err == nil {
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := c.KillAll(kctx); err != nil {
			return err
		}
		return c.Delete()
	}
	group, gerr := groupPath(root, id)
	if gerr != nil {
		return gerr
	}
	unlock, lerr := lockParent(root)
	if lerr != nil {
		return fmt.Errorf("delete cgroup %s: %w", group, lerr)
	}
	defer unlock()
	if useV2() {
		dir := filepath.Join(mountBase, group)
		_ = unix.Rmdir(filepath.Join(dir, WorkloadLeaf))
		_ = unix.Rmdir(dir)
		_ = unix.Rmdir(parentOf(dir))
		return nil
	}
	removeV1Dirs(group)
	return nil
}
