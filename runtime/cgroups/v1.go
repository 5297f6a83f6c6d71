package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1Controllers are the v1 hierarchies a sandbox joins: the limits, CPU
// accounting, and the freezer that makes KillAll race-free.
var v1Controllers = []cgroup1.Name{cgroup1.Memory, cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Pids, cgroup1.Freezer}

type v1Backend struct {
	cg    cgroup1.Cgroup
	group string
	memsw bool // memory.memsw.* exists (swap accounting on)
}

// v1Hierarchy is our containerd hierarchy: only v1Controllers, each of which
// must be a mounted cgroup v1 hierarchy (otherwise containerd would create
// plain directories in the tmpfs at /sys/fs/cgroup).
func v1Hierarchy() ([]cgroup1.Subsystem, error) {
	var subs []cgroup1.Subsystem
	for _, n := range v1Controllers {
		dir := filepath.Join(mountBase, string(n))
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
			return nil, fmt.Errorf("cgroup v1 controller %s is not mounted at %s", n, dir)
		}
		switch n {
		case cgroup1.Memory:
			subs = append(subs, cgroup1.NewMemory(mountBase, cgroup1.OptionalSwap()))
		case cgroup1.Cpu:
			subs = append(subs, cgroup1.NewCpu(mountBase))
		case cgroup1.Cpuacct:
			subs = append(subs, cgroup1.NewCpuacct(mountBase))
		case cgroup1.Pids:
			subs = append(subs, cgroup1.NewPids(mountBase))
		case cgroup1.Freezer:
			subs = append(subs, cgroup1.NewFreezer(mountBase))
		}
	}
	return subs, nil
}

// newV1 creates the cgroup in every controller. fresh reports that this
// call made every controller's directory (none was left by an earlier
// sandbox of the same id that died before removing it): such a cgroup holds
// no process and the kernel's defaults.
func newV1(group string) (_ backend, fresh bool, err error) {
	if _, err := v1Hierarchy(); err != nil {
		return nil, false, err
	}
	var cg cgroup1.Cgroup
	// A concurrent Delete of the root's last other sandbox may remove the
	// per-root parent between our mkdirs (ENOENT): try again.
	for try := 0; try < 3; try++ {
		// Our own mkdirs, to learn whether the directories are new;
		// containerd's New then finds them and makes none.
		if fresh, err = mkdirV1(group); err == nil {
			cg, err = cgroup1.New(cgroup1.StaticPath(group), &specs.LinuxResources{}, cgroup1.WithHierarchy(v1Hierarchy))
		}
		if !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err != nil {
		removeV1Dirs(group)
		return nil, false, err
	}
	return newV1Backend(cg, group), fresh, nil
}

// mkdirV1 makes group's directory (and the per-root parent) in every
// controller; fresh is false when one of them existed already.
func mkdirV1(group string) (fresh bool, err error) {
	fresh = true
	for _, n := range v1Controllers {
		dir := filepath.Join(mountBase, string(n), group)
		if err := os.Mkdir(dir, 0o755); err == nil {
			continue
		} else if errors.Is(err, os.ErrExist) {
			fresh = false
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		if err := os.Mkdir(parentOf(dir), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return false, err
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			return false, err // ENOENT: the parent went meanwhile, try again
		}
	}
	return fresh, nil
}

func loadV1(group string) (backend, error) {
	cg, err := cgroup1.Load(cgroup1.StaticPath(group), cgroup1.WithHierarchy(v1Hierarchy))
	if err != nil {
		return nil, err
	}
	if len(cg.Subsystems()) != len(v1Controllers) {
		return nil, fmt.Errorf("exists in %d of the %d controllers %v", len(cg.Subsystems()), len(v1Controllers), v1Controllers)
	}
	return newV1Backend(cg, group), nil
}

func newV1Backend(cg cgroup1.Cgroup, group string) *v1Backend {
	b := &v1Backend{cg: cg, group: group}
	_, err := os.Stat(b.file(cgroup1.Memory, "memory.memsw.limit_in_bytes"))
	b.memsw = err == nil
	return b
}

func (b *v1Backend) dir(n cgroup1.Name) string { return filepath.Join(mountBase, string(n), b.group) }

func (b *v1Backend) file(n cgroup1.Name, f string) string { return filepath.Join(b.dir(n), f) }

func (b *v1Backend) paths() map[string]string {
	m := make(map[string]string, len(v1Controllers))
	for _, n := range v1Controllers {
		m[string(n)] = b.dir(n)
	}
	return m
}

func (b *v1Backend) joinFiles() []string {
	var out []string
	for _, n := range v1Controllers {
		out = append(out, b.file(n, "tasks"))
	}
	return out
}

func (b *v1Backend) addProc(pid int) error { return b.cg.AddProc(uint64(pid)) }

func (b *v1Backend) update(r Resources) error {
	period := uint64(cpuPeriod)
	quota := cpuQuota(r.CPUs)
	if err := b.cg.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Period: &period, Quota: &quota}}); err != nil {
		return fmt.Errorf("cpu quota %d/%d: %w", quota, period, err)
	}
	if err := b.updateMemory(memoryLimit(r.Memory)); err != nil {
		return err
	}
	// containerd writes pids.max only for positive limits.
	if p := pidsLimit(r.Pids); p > 0 {
		if err := b.cg.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &p}}); err != nil {
			return fmt.Errorf("pids limit %d: %w", p, err)
		}
	} else if err := os.WriteFile(b.file(cgroup1.Pids, "pids.max"), []byte("max"), 0o644); err != nil {
		return fmt.Errorf("pids limit max: %w", err)
	}
	return nil
}

// updateMemory sets memory.limit_in_bytes and, with swap accounting, an
// equal memsw limit, so the workload cannot swap past its limit and a hog
// meets the OOM killer.
func (b *v1Backend) updateMemory(limit int64) error {
	setLimit := func() error {
		err := b.cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})
		if err != nil {
			return fmt.Errorf("memory limit %d: %w", limit, err)
		}
		return nil
	}
	if !b.memsw {
		return setLimit()
	}
	setSwap := func() error {
		err := b.cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: &limit}})
		if err != nil {
			return fmt.Errorf("memory+swap limit %d: %w", limit, err)
		}
		return nil
	}
	cur, err := readInt(b.file(cgroup1.Memory, "memory.limit_in_bytes"))
	if err != nil {
		return err
	}
	if cur >= 1<<62 {
		cur = unlimited
	}
	first, second := setLimit, setSwap
	if v1MemoryOrder(cur, limit) {
		first, second = setSwap, setLimit
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

func (b *v1Backend) stats() (Stats, error) {
	m, err := b.cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return Stats{}, err
	}
	var s Stats
	if m.CPU != nil && m.CPU.Usage != nil {
		s.CPUUsec = m.CPU.Usage.Total / 1000
	}
	if m.Memory != nil && m.Memory.Usage != nil {
		s.MemoryBytes = m.Memory.Usage.Usage
		s.MemoryLimit = normLimit(m.Memory.Usage.Limit)
	}
	if m.Pids != nil {
		s.Pids, s.PidsLimit = m.Pids.Current, normLimit(m.Pids.Limit)
	}
	s.OOMKills, err = b.oomKills()
	return s, err
}

// oomKills reads the oom_kill counter of memory.oom_control (Linux 4.13+);
// older kernels only say how often the limit was hit (memory.failcnt),
// which is the closest hint they offer (counted as one kill).
func (b *v1Backend) oomKills() (uint64, error) {
	data, err := os.ReadFile(b.file(cgroup1.Memory, "memory.oom_control"))
	if err != nil {
		return 0, err
	}
	if n, ok := kvField(data, "oom_kill"); ok {
		return n, nil
	}
	n, err := readInt(b.file(cgroup1.Memory, "memory.failcnt"))
	if n > 0 {
		return 1, err
	}
	return 0, err
}
