package cgroups

// Listing, killing and removing the processes and directories of a v1 cgroup.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"golang.org/x/sys/unix"
)

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
	return killUntilEmpty(ctx, b.procs, func() error {
		b.freeze(ctx)
		pids, err := b.procs()
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
		return b.thaw()
	})
}

// killUntilEmpty is every backend's killAll loop: while procs lists
// processes, kill them (each backend its own way: cgroup.kill, or freeze,
// SIGKILL, thaw) and look again shortly, until the cgroup is empty or ctx
// ends. A cgroup already removed is empty (the kernel removes only empty
// ones): a second stop of a sandbox, after the first tore it down, has
// nothing to kill.
func killUntilEmpty(ctx context.Context, procs func() ([]int, error), kill func() error) error {
	for {
		pids, err := procs()
		if gone(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if err := kill(); err != nil {
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
