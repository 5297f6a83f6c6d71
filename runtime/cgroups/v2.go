package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"nucleus/spec"

	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"
)

// v2Backend is a cgroup in a unified hierarchy mounted at mountBase.
type v2Backend struct {
	m   *cgroup2.Manager
	dir string
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
	if err != nil {
		dir := filepath.Join(mountBase, group)
		_ = unix.Rmdir(dir)
		_ = unix.Rmdir(parentOf(dir))
		return nil, err
	}
	return &v2Backend{m: m, dir: filepath.Join(mountBase, group)}, nil
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
	return &v2Backend{m: m, dir: dir}, nil
}

func (b *v2Backend) paths() map[string]string { return map[string]string{"": b.dir} }

func (b *v2Backend) addProc(pid int) error { return b.m.AddProc(uint64(pid)) }

func (b *v2Backend) swapAccounting() bool {
	_, err := os.Stat(filepath.Join(b.dir, "memory.swap.max"))
	return err == nil
}

func (b *v2Backend) update(r spec.Resources) error {
	swap := b.swapAccounting()
	if err := b.m.Update(toV2(r, swap)); err != nil {
		return err
	}
	for _, f := range v2UnlimitedMemory(r, swap) {
		if err := os.WriteFile(filepath.Join(b.dir, f), []byte("max"), 0o644); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

func (b *v2Backend) stats() (Stats, error) {
	m, err := b.m.Stat()
	if err != nil {
		return Stats{}, err
	}
	var s Stats
	if m.CPU != nil {
		s.CPUUsec = m.CPU.UsageUsec
	}
	if m.Memory != nil {
		s.MemoryBytes, s.MemoryLimit = m.Memory.Usage, normLimit(m.Memory.UsageLimit)
	}
	if m.Pids != nil {
		s.Pids, s.PidsLimit = m.Pids.Current, normLimit(m.Pids.Limit)
	}
	return s, nil
}

func (b *v2Backend) oomKilled() (bool, error) {
	data, err := os.ReadFile(filepath.Join(b.dir, "memory.events"))
	if err != nil {
		return false, err
	}
	n, _ := kvField(data, "oom_kill")
	return n > 0, nil
}

func (b *v2Backend) procs() ([]int, error) {
	ps, err := b.m.Procs(true)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(ps))
	for _, p := range ps {
		out = append(out, int(p))
	}
	sort.Ints(out)
	return out, nil
}

// killAll uses cgroup.kill (Linux 5.14+; containerd falls back to
// freeze/kill/thaw) and waits for the cgroup to empty.
func (b *v2Backend) killAll(ctx context.Context) error {
	for {
		pids, err := b.procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if err := b.m.Kill(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d processes left: %w", len(pids), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (b *v2Backend) delete() error {
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

// FD opens the v2 cgroup directory for clone3's CLONE_INTO_CGROUP
// (syscall.SysProcAttr.UseCgroupFD). The caller closes it. v1 has no
// equivalent: use AddProc.
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
