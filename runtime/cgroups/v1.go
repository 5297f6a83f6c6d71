package cgroups

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"nucleus/spec"

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

func newV1(group string) (backend, error) {
	if _, err := v1Hierarchy(); err != nil {
		return nil, err
	}
	var cg cgroup1.Cgroup
	var err error
	// A concurrent Delete of the root's last other sandbox may remove the
	// per-root parent between our mkdirs (ENOENT): try again.
	for try := 0; try < 3; try++ {
		cg, err = cgroup1.New(cgroup1.StaticPath(group), &specs.LinuxResources{}, cgroup1.WithHierarchy(v1Hierarchy))
		if !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err != nil {
		removeV1Dirs(group)
		return nil, err
	}
	return newV1Backend(cg, group), nil
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

func (b *v1Backend) addProc(pid int) error { return b.cg.AddProc(uint64(pid)) }

func (b *v1Backend) update(r spec.Resources) error {
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
	return s, nil
}

// oomKilled reads the oom_kill counter of memory.oom_control (Linux 4.13+);
// older kernels only say how often the limit was hit (memory.failcnt),
// which is the closest hint they offer.
func (b *v1Backend) oomKilled() (bool, error) {
	data, err := os.ReadFile(b.file(cgroup1.Memory, "memory.oom_control"))
	if err != nil {
		return false, err
	}
	if n, ok := kvField(data, "oom_kill"); ok {
		return n > 0, nil
	}
	n, err := readInt(b.file(cgroup1.Memory, "memory.failcnt"))
	return n > 0, err
}

// procs reads cgroup.procs of the freezer directory and its children.
// (containerd's Processes lstat()s every file of the tree on the way, which
// is most of the cost of a stop.)
func (b *v1Backend) procs() ([]int, error) {
	seen := map[int]bool{}
	if err := readProcsTree(b.dir(cgroup1.Freezer), seen); err != nil {
		return nil, err
	}
	out := make([]int, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Ints(out)
	return out, nil
}

func readProcsTree(dir string, seen map[int]bool) error {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return err
	}
	for _, f := range strings.Fields(string(data)) {
		if p, err := strconv.Atoi(f); err == nil {
			seen[p] = true
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := readProcsTree(filepath.Join(dir, e.Name()), seen); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// killAll freezes the cgroup so nothing can fork while we look, SIGKILLs
// every process, thaws (a frozen process cannot die), and repeats until
// the cgroup is empty.
func (b *v1Backend) killAll(ctx context.Context) error {
	for {
		pids, err := b.procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		b.freeze(ctx)
		pids, err = b.procs()
		if err != nil {
			b.thaw()
			return err
		}
		for _, pid := range pids {
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				b.thaw()
				return fmt.Errorf("kill pid %d: %w", pid, err)
			}
		}
		if err := b.thaw(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d processes left: %w", len(pids), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// freeze asks for FROZEN and waits briefly. A cgroup can stay FREEZING
// (e.g. a task in uninterruptible sleep); then we kill unfrozen, and the
// next round of killAll catches whatever forked meanwhile.
func (b *v1Backend) freeze(ctx context.Context) {
	state := b.file(cgroup1.Freezer, "freezer.state")
	if err := os.WriteFile(state, []byte("FROZEN"), 0o644); err != nil {
		return
	}
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if s, err := os.ReadFile(state); err == nil && strings.TrimSpace(string(s)) == "FROZEN" {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (b *v1Backend) thaw() error {
	if err := os.WriteFile(b.file(cgroup1.Freezer, "freezer.state"), []byte("THAWED"), 0o644); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	return nil
}

// delete removes the directory in every controller with rmdir, which the
// kernel refuses (EBUSY) while a process is inside. (containerd's Delete
// walks every file of every controller first; that doubled the cost of a
// sandbox's stop.)
func (b *v1Backend) delete() error {
	var busy []string
	for _, n := range v1Controllers {
		d := b.dir(n)
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			if errors.Is(err, unix.EBUSY) {
				busy = append(busy, string(n))
				continue
			}
			return fmt.Errorf("remove %s: %w", d, err)
		}
		_ = unix.Rmdir(parentOf(d)) // fails harmlessly while other sandboxes of this root exist
	}
	if len(busy) > 0 {
		pids, _ := b.procs()
		return fmt.Errorf("still in use in %s (processes %v)", strings.Join(busy, ", "), pids)
	}
	return nil
}

// removeV1Dirs removes group's directory (if empty of processes, else the
// kernel refuses) and then its per-root parent if that is empty, in every
// controller.
func removeV1Dirs(group string) {
	for _, n := range v1Controllers {
		d := filepath.Join(mountBase, string(n), group)
		_ = unix.Rmdir(d)
		_ = unix.Rmdir(parentOf(d)) // fails harmlessly while other sandboxes of this root exist
	}
}

func readInt(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return unlimited, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		u, uerr := strconv.ParseUint(s, 10, 64)
		if uerr != nil {
			return 0, fmt.Errorf("%s: %q is not a number", path, s)
		}
		return int64(u >> 1), nil // beyond int64: effectively unlimited
	}
	return v, nil
}

// kvField finds "key N" in a flat-keyed cgroup file.
func kvField(data []byte, key string) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == key {
			v, err := strconv.ParseUint(f[1], 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}
