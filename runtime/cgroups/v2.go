package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"
)

// WorkloadLeaf is the threaded child of a v2 sandbox cgroup that holds the
// workload: <group>/workload.
//
// Why threaded: the init must not count against the workload's limits, but
// everything the sandbox runs is forked from one thread of the init (the
// spawner, see runtime/doc.go) and must be born under the limits. On v1 that
// thread alone joins the cgroup. v2 places whole processes, except inside a
// threaded subtree, where threads of one process may sit in different
// cgroups: the sandbox cgroup is the subtree's domain (memory, cgroup.kill,
// cgroup.freeze; the init process is born there) and the workload leaf has
// the threaded controllers (cpu.max, pids.max), which the spawner thread
// joins by writing "0" to its cgroup.threads. Memory is a domain controller,
// so on v2 it is limited on the sandbox cgroup, the init's pages included.
const WorkloadLeaf = "workload"

// v2Backend is a cgroup in a unified hierarchy mounted at mountBase.
type v2Backend struct {
	m    *cgroup2.Manager
	dir  string // the sandbox cgroup (threaded domain)
	wdir string // dir/workload (threaded)
}

func newV2(group string) (backend, error) {
	// Empty resources: enable cpu, memory and pids in the ancestors'
	// subtree_control; update writes the values.
	var m *cgroup2.Manager
	var err error
	for try := 0; try < 3; try++ { // see newV1 for the retry
		m, err = cgroup2.NewManager(mountBase, group, &cgroup2.Resources{
			CPU: &cgroup2.CPU{}, Memory: &cgroup2.Memory{}, Pids: &cgroup2.Pids{},
		})
		if !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	dir := filepath.Join(mountBase, group)
	b := &v2Backend{m: m, dir: dir, wdir: filepath.Join(dir, WorkloadLeaf)}
	if err == nil {
		err = b.makeWorkload()
	}
	if err != nil {
		_ = unix.Rmdir(b.wdir)
		_ = unix.Rmdir(dir)
		_ = unix.Rmdir(parentOf(dir))
		return nil, err
	}
	return b, nil
}

// makeWorkload creates the threaded workload leaf and enables for it the
// threaded controllers the host has (cpu, pids).
func (b *v2Backend) makeWorkload() error {
	if err := os.Mkdir(b.wdir, 0o755); err != nil && !os.IsExist(err) {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.wdir, "cgroup.type"), []byte("threaded"), 0o644); err != nil {
		return fmt.Errorf("make %s threaded: %w", b.wdir, err)
	}
	avail, err := os.ReadFile(filepath.Join(b.dir, "cgroup.controllers"))
	if err != nil {
		return err
	}
	var enable []string
	for _, c := range strings.Fields(string(avail)) {
		if c == "cpu" || c == "pids" {
			enable = append(enable, "+"+c)
		}
	}
	if len(enable) == 0 { // a controller-less hierarchy (hybrid hosts' unified tree)
		return nil
	}
	if err := os.WriteFile(filepath.Join(b.dir, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0o644); err != nil {
		return fmt.Errorf("enable %v for %s: %w", enable, b.wdir, err)
	}
	return nil
}

func loadV2(group string) (backend, error) {
	dir := filepath.Join(mountBase, group)
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return nil, err
	}
	m, err := cgroup2.Load(group, cgroup2.WithMountpoint(mountBase))
	if err != nil {
		return nil, err
	}
	return &v2Backend{m: m, dir: dir, wdir: filepath.Join(dir, WorkloadLeaf)}, nil
}

func (b *v2Backend) paths() map[string]string { return map[string]string{"": b.dir} }

// joinFiles: the spawner thread joins the workload leaf alone.
func (b *v2Backend) joinFiles() []string { return []string{filepath.Join(b.wdir, "cgroup.threads")} }

// addProc moves a whole process into the workload leaf.
func (b *v2Backend) addProc(pid int) error {
	return os.WriteFile(filepath.Join(b.wdir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

func (b *v2Backend) swapAccounting() bool {
	_, err := os.Stat(filepath.Join(b.dir, "memory.swap.max"))
	return err == nil
}

func (b *v2Backend) update(r Resources) error {
	swap := b.swapAccounting()
	if err := b.m.Update(&cgroup2.Resources{Memory: toV2(r, swap).Memory}); err != nil {
		return err
	}
	for _, f := range v2UnlimitedMemory(r, swap) {
		if err := os.WriteFile(filepath.Join(b.dir, f), []byte("max"), 0o644); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return b.updateThreaded(r)
}

// updateThreaded writes the workload leaf's limits (cpu.max, pids.max).
func (b *v2Backend) updateThreaded(r Resources) error {
	cpu, pids := "max", "max"
	if q := cpuQuota(r.CPUs); q > 0 {
		cpu = strconv.FormatInt(q, 10)
	}
	if p := pidsLimit(r.Pids); p > 0 {
		pids = strconv.FormatInt(p, 10)
	}
	for _, w := range []struct{ file, val string }{{"cpu.max", cpu + " " + strconv.Itoa(cpuPeriod)}, {"pids.max", pids}} {
		if err := os.WriteFile(filepath.Join(b.wdir, w.file), []byte(w.val), 0o644); err != nil {
			if userMode && os.IsNotExist(err) {
				continue // not delegated to the user: reported by NotEnforced
			}
			return fmt.Errorf("%s of %s: %w", w.file, b.wdir, err)
		}
	}
	return nil
}

// stats: memory of the sandbox cgroup, CPU time and tasks of the workload.
func (b *v2Backend) stats() (Stats, error) {
	var s Stats
	cpu, err := os.ReadFile(filepath.Join(b.wdir, "cpu.stat"))
	if err != nil {
		return s, err
	}
	s.CPUUsec, _ = kvField(cpu, "usage_usec")
	for _, f := range []struct {
		path string
		v    *uint64
	}{
		{filepath.Join(b.dir, "memory.current"), &s.MemoryBytes},
		{filepath.Join(b.dir, "memory.max"), &s.MemoryLimit},
		{filepath.Join(b.wdir, "pids.current"), &s.Pids},
		{filepath.Join(b.wdir, "pids.max"), &s.PidsLimit},
	} {
		n, err := readInt(f.path)
		if err != nil {
			return s, err
		}
		if n > 0 {
			*f.v = normLimit(uint64(n))
		}
	}
	s.OOMKills, err = b.oomKills()
	return s, err
}

// oomKills is memory.events' oom_kill of the sandbox cgroup (hierarchical).
func (b *v2Backend) oomKills() (uint64, error) {
	data, err := os.ReadFile(filepath.Join(b.dir, "memory.events"))
	if err != nil {
		return 0, err
	}
	n, _ := kvField(data, "oom_kill")
	return n, nil
}

// procs: a threaded domain's cgroup.procs lists every process of its
// subtree (a threaded leaf's cannot be read).
func (b *v2Backend) procs() ([]int, error) {
	data, err := os.ReadFile(filepath.Join(b.dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(data)) {
		if p, err := strconv.Atoi(f); err == nil {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out, nil
}

// killAll uses cgroup.kill (Linux 5.14+; containerd falls back to
// freeze/kill/thaw) and waits for the cgroup to empty.
func (b *v2Backend) killAll(ctx context.Context) error {
	return killUntilEmpty(ctx, b.procs, func() error { return b.m.Kill() })
}

func (b *v2Backend) delete() error {
	if err := unix.Rmdir(b.wdir); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", b.wdir, err)
	}
	if _, err := os.Stat(b.dir); os.IsNotExist(err) {
		_ = unix.Rmdir(parentOf(b.dir))
		return nil
	}
	if err := b.m.Delete(); err != nil {
		return err
	}
	_ = unix.Rmdir(parentOf(b.dir)) // fails harmlessly while other sandboxes of this root exist
	return nil
}

// FD opens the v2 sandbox cgroup directory for clone3's CLONE_INTO_CGROUP
// (syscall.SysProcAttr.UseCgroupFD): the init is born there, outside the
// workload leaf. The caller closes it. v1 has no equivalent: use AddProc.
func (c *Cgroup) FD() (int, error) {
	if !c.v2 {
		return -1, fmt.Errorf("cgroup %s: CLONE_INTO_CGROUP needs cgroup v2", c.group)
	}
	fd, err := unix.Open(c.Dir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open cgroup %s: %w", c.Dir(), err)
	}
	return fd, nil
}
