package cgroups

// Pausing a sandbox (nucleus pause/unpause): the cgroup freezer stops every
// task of the cgroup where it stands, without a signal the workload could
// see or handle.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
)

// freezer names the file that freezes the cgroup and how to read its state.
// v1: the freezer controller's freezer.state (the init's spawner thread and
// the workload live there). v2: cgroup.freeze of the sandbox cgroup, which
// freezes the workload leaf below it too; cgroup.events says when it is.
func (c *Cgroup) freezer() (ctl, state string, v2 bool) {
	switch b := c.b.(type) {
	case *v1Backend:
		f := b.file(cgroup1.Freezer, "freezer.state")
		return f, f, false
	case *v2Backend:
		return filepath.Join(b.dir, "cgroup.freeze"), filepath.Join(b.dir, "cgroup.events"), true
	case *systemdBackend:
		return filepath.Join(b.dir, "cgroup.freeze"), filepath.Join(b.dir, "cgroup.events"), true
	}
	return "", "", false
}

// Freeze stops every process of the cgroup and waits (up to ctx) until the
// kernel says they are all frozen.
func (c *Cgroup) Freeze(ctx context.Context) error {
	ctl, _, v2 := c.freezer()
	val := "FROZEN"
	if v2 {
		val = "1"
	}
	if err := os.WriteFile(ctl, []byte(val), 0o644); err != nil {
		return fmt.Errorf("freeze cgroup %s: %w", c.group, err)
	}
	for {
		frozen, err := c.Frozen()
		if err != nil || frozen {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("freeze cgroup %s: still freezing (a task in uninterruptible sleep?): %w", c.group, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Thaw lets the processes of a frozen cgroup run again.
func (c *Cgroup) Thaw() error {
	ctl, _, v2 := c.freezer()
	val := "THAWED"
	if v2 {
		val = "0"
	}
	if err := os.WriteFile(ctl, []byte(val), 0o644); err != nil {
		return fmt.Errorf("thaw cgroup %s: %w", c.group, err)
	}
	return nil
}

// Frozen reports whether the cgroup is frozen (v1 FROZEN; v2 "frozen 1" in
// cgroup.events, or cgroup.freeze asked for where events lack the line).
func (c *Cgroup) Frozen() (bool, error) {
	ctl, state, v2 := c.freezer()
	b, err := os.ReadFile(state)
	if err != nil {
		return false, fmt.Errorf("freezer state of cgroup %s: %w", c.group, err)
	}
	if !v2 {
		return strings.TrimSpace(string(b)) == "FROZEN", nil
	}
	if n, ok := kvField(b, "frozen"); ok {
		return n == 1, nil
	}
	b, err = os.ReadFile(ctl)
	if err != nil {
		return false, fmt.Errorf("freezer state of cgroup %s: %w", c.group, err)
	}
	return strings.TrimSpace(string(b)) == "1", nil
}
