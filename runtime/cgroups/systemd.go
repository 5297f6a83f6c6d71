package cgroups

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"nucleus/internal/rootdir"
)

// The systemd manager (Manager Systemd), as runc's and crun's systemd
// cgroup drivers do it: the init is cloned outside any cgroup of ours, then
// StartTransientUnit creates a scope for it
//
//	nucleus.slice/nucleus-<rootID>.slice/nucleus-<rootID>-<project>.slice/nucleus-<id>-<rootID>.scope
//
// with PIDs=[init], Delegate=yes, MemoryMax/MemorySwapMax (the sandbox
// cgroup's memory limit, kept by systemd across daemon-reload) and
// TasksMax=infinity. The scope's cgroup is the sandbox cgroup; being
// delegated, nucleus may create the threaded workload leaf below it and
// write its cpu.max and pids.max, which systemd never touches. Removal
// kills through cgroup.kill, removes the leaf, stops the scope (systemd
// removes its cgroup) and stops the root's slices once empty. A scope
// belongs to no other unit, so it outlives the shell or daemon unit that
// created it; Load finds it by name after a restart.

// sliceRoot is the slice every root's slice nests in (systemd derives the
// nesting from the dashes in a slice's name).
const sliceRoot = "nucleus.slice"

func rootSlice(root rootdir.Root) string { return "nucleus-" + root.ID() + ".slice" }

// projectSlice is the slice of a project's sandboxes (the root's slice for
// sandboxes of no project: nucleus run).
func projectSlice(root rootdir.Root, project string) string {
	if project == "" {
		return rootSlice(root)
	}
	return "nucleus-" + root.ID() + "-" + unitEscape(project) + ".slice"
}

// scopeName is the unit of sandbox id; the sandbox id of a project's
// replica already reads <project>.<service>.<n>. It needs no escaping: ids
// hold only [A-Za-z0-9_.-], all valid in unit names, and a '-' nests only
// in slice names. (Escaping would also rename the scopes of running
// sandboxes, which Load finds by this name.)
func scopeName(root rootdir.Root, id string) string {
	return "nucleus-" + id + "-" + root.ID() + ".scope"
}

// unitEscape escapes s as systemd-escape does: every byte outside
// [A-Za-z0-9:_.] (a leading '.' too) becomes \xNN, so a '-' in a project
// name does not nest another slice.
func unitEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '.' && i > 0
		if ok {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// slicePath is where systemd puts a slice's cgroup: a-b-c.slice is
// /a.slice/a-b.slice/a-b-c.slice.
func slicePath(slice string) string {
	name := strings.TrimSuffix(slice, ".slice")
	if name == "-" || name == "" {
		return "/"
	}
	parts := strings.Split(name, "-")
	p := ""
	for i := range parts {
		p += "/" + strings.Join(parts[:i+1], "-") + ".slice"
	}
	return p
}

var (
	busMu sync.Mutex
	bus   *sdbus.Conn
)

// systemdConn is the process's connection to systemd: its private socket
// (root), else the system bus.
func systemdConn(ctx context.Context) (*sdbus.Conn, error) {
	busMu.Lock()
	defer busMu.Unlock()
	if bus != nil && bus.Connected() {
		return bus, nil
	}
	if userMode {
		c, err := userConn(ctx)
		if err != nil {
			return nil, err
		}
		bus = c
		return c, nil
	}
	c, err := sdbus.NewSystemdConnectionContext(ctx)
	if err != nil {
		var err2 error
		if c, err2 = sdbus.NewSystemConnectionContext(ctx); err2 != nil {
			return nil, fmt.Errorf("cgroup manager systemd: cannot reach systemd over D-Bus (%v; system bus: %v); "+
				"run nucleus with --cgroup-manager cgroupfs (or %s=cgroupfs) to place cgroups directly", err, err2, ManagerEnv)
		}
	}
	bus = c
	return c, nil
}

// waitJob waits for a systemd job's result.
func waitJob(ctx context.Context, what string, ch <-chan string) error {
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("%s: systemd job %s", what, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// memoryProps are the scope's memory limits as systemd properties.
func memoryProps(r Resources, swapAccounting bool) []sdbus.Property {
	max, swap := uint64(math.MaxUint64), uint64(math.MaxUint64) // infinity
	if m := memoryLimit(r.Memory); m > 0 {
		max = uint64(m)
		if swapAccounting {
			swap = 0
		}
	}
	return []sdbus.Property{
		{Name: "MemoryMax", Value: godbus.MakeVariant(max)},
		{Name: "MemorySwapMax", Value: godbus.MakeVariant(swap)},
	}
}

func swapAccountingHost() bool {
	_, err := os.Stat(filepath.Join(mountBase, "init.scope", "memory.swap.max"))
	if err == nil {
		return true
	}
	_, err = os.Stat(filepath.Join(mountBase, sliceRoot, "memory.swap.max"))
	return err == nil
}

// Unit describes a sandbox for the systemd manager.
type Unit struct {
	PID     int    // the init, moved into the scope
	Project string // the slice: nucleus-<rootID>-<project>.slice
	Service string // for the unit's description
}

// systemdBackend is a v2 cgroup that is a delegated systemd scope.
type systemdBackend struct {
	*v2Backend
	root  rootdir.Root
	unit  string
	group string

	// The OOM counter outlives the scope: systemd removes an empty scope's
	// cgroup at once, possibly before the exit is handled (watchOOM).
	oomOnce  sync.Once
	oomLast  atomic.Uint64
	oomWatch *os.File // inotify on memory.events, closed by delete
	oomMu    sync.Mutex
}

// watchOOM keeps oomLast up to date from memory.events (inotify IN_MODIFY:
// the kernel notifies every change of the counters) until delete.
func (b *systemdBackend) watchOOM() {
	b.oomOnce.Do(func() {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return
		}
		if _, err := unix.InotifyAddWatch(fd, filepath.Join(b.dir, "memory.events"), unix.IN_MODIFY); err != nil {
			unix.Close(fd)
			return
		}
		f := os.NewFile(uintptr(fd), "inotify memory.events") // on Go's poller
		b.oomMu.Lock()
		b.oomWatch = f
		b.oomMu.Unlock()
		_, _ = b.oomKills()
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := f.Read(buf); err != nil {
					return // closed by delete
				}
				_, _ = b.oomKills()
			}
		}()
	})
}

// oomKills: memory.events, or the last count seen once systemd removed
// the cgroup.
func (b *systemdBackend) oomKills() (uint64, error) {
	n, err := b.v2Backend.oomKills()
	if gone(err) {
		return b.oomLast.Load(), nil
	}
	if err != nil {
		return 0, err
	}
	for {
		old := b.oomLast.Load()
		if n <= old || b.oomLast.CompareAndSwap(old, n) {
			break
		}
	}
	return max(n, b.oomLast.Load()), nil
}

// WatchOOM makes the OOM counter survive the cgroup (systemd manager:
// systemd removes an empty scope's cgroup at once, maybe before the
// sandbox's exit is handled). A no-op for cgroups nucleus removes itself.
func (c *Cgroup) WatchOOM() {
	if sb, ok := c.b.(*systemdBackend); ok {
		sb.watchOOM()
	}
}

func isNoSuchUnit(err error) bool {
	var de godbus.Error
	if errors.As(err, &de) {
		return de.Name == "org.freedesktop.systemd1.NoSuchUnit" || de.Name == "org.freedesktop.systemd1.LoadFailed"
	}
	return err != nil && strings.Contains(err.Error(), "not loaded")
}

// newSystemd starts the scope of sandbox id around u.PID (called with the
// root's parent lock held, so that no Delete stops the slice meanwhile).
func newSystemd(root rootdir.Root, id string, u Unit, r Resources) (*systemdBackend, error) {
	if u.PID <= 0 {
		return nil, fmt.Errorf("cgroup manager systemd: no process to put into the scope")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := systemdConn(ctx)
	if err != nil {
		return nil, err
	}
	unit, slice := scopeName(root, id), projectSlice(root, u.Project)
	desc := "nucleus sandbox " + id
	if u.Project != "" {
		desc += " (project " + u.Project + ", service " + u.Service + ")"
	}
	props := append([]sdbus.Property{
		sdbus.PropDescription(desc),
		sdbus.PropSlice(slice),
		sdbus.PropPids(uint32(u.PID)),
		{Name: "Delegate", Value: godbus.MakeVariant(true)},
		{Name: "TasksMax", Value: godbus.MakeVariant(uint64(math.MaxUint64))},
		{Name: "CollectMode", Value: godbus.MakeVariant("inactive-or-failed")},
	}, memoryProps(r, swapAccountingHost())...)
	start := func() error {
		ch := make(chan string, 1)
		if _, err := conn.StartTransientUnitContext(ctx, unit, "fail", props, ch); err != nil {
			return err
		}
		return waitJob(ctx, "start "+unit, ch)
	}
	if err := start(); err != nil {
		// A failed scope of the same name that was not collected yet.
		_ = conn.ResetFailedUnitContext(ctx, unit)
		if err2 := start(); err2 != nil {
			return nil, fmt.Errorf("start systemd scope %s in %s: %w", unit, slice, err)
		}
	}
	group, err := procCgroupV2(u.PID)
	if err == nil && filepath.Base(group) != unit {
		err = fmt.Errorf("process %d is in %s, not in the scope %s", u.PID, group, unit)
	}
	if err == nil {
		var b backend
		if b, err = loadV2(group); err == nil {
			sb := &systemdBackend{v2Backend: b.(*v2Backend), root: root, unit: unit, group: group}
			if err = sb.makeWorkload(); err == nil {
				return sb, nil
			}
		}
	}
	stopUnit(ctx, conn, unit)
	return nil, fmt.Errorf("systemd scope %s: %w", unit, err)
}

// procCgroupV2 is the v2 cgroup of a process, relative to the hierarchy.
func procCgroupV2(pid int) (string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if g, ok := strings.CutPrefix(l, "0::"); ok {
			return g, nil
		}
	}
	return "", fmt.Errorf("process %d has no cgroup v2", pid)
}

// findScope looks for sandbox id's scope under the root's slice.
func findScope(root rootdir.Root, id string) (string, bool) {
	top := filepath.Join(mountBase, sliceBase, slicePath(rootSlice(root)))
	want := scopeName(root, id)
	found := ""
	_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if d.Name() == want {
			found = p
			return filepath.SkipAll
		}
		if p != top && !strings.HasSuffix(d.Name(), ".slice") {
			return filepath.SkipDir
		}
		return nil
	})
	if found == "" {
		return "", false
	}
	return strings.TrimPrefix(found, mountBase), true
}

func loadSystemd(root rootdir.Root, id, group string) (*systemdBackend, error) {
	b, err := loadV2(group)
	if err != nil {
		return nil, err
	}
	return &systemdBackend{v2Backend: b.(*v2Backend), root: root, unit: scopeName(root, id), group: group}, nil
}

// update: memory through systemd (the scope's own attributes are its),
// cpu and pids on the workload leaf.
func (b *systemdBackend) update(r Resources) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := systemdConn(ctx)
	if err != nil {
		return err
	}
	if err := conn.SetUnitPropertiesContext(ctx, b.unit, true, memoryProps(r, b.swapAccounting())...); err != nil {
		return fmt.Errorf("set memory limits of %s: %w", b.unit, err)
	}
	return b.updateThreaded(r)
}

// delete removes the workload leaf, stops the (empty) scope, whose cgroup
// systemd removes, and the root's slices once nothing is left in them.
func (b *systemdBackend) delete() error {
	b.oomMu.Lock()
	if b.oomWatch != nil {
		b.oomWatch.Close()
		b.oomWatch = nil
	}
	b.oomMu.Unlock()
	if err := unix.Rmdir(b.wdir); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", b.wdir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := systemdConn(ctx)
	if err != nil {
		return err
	}
	if err := stopUnit(ctx, conn, b.unit); err != nil {
		return err
	}
	// Normally gone with the unit; a leftover of a dead unit is empty.
	if err := unix.Rmdir(b.dir); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", b.dir, err)
	}
	stopEmptySlices(ctx, conn, b.root, filepath.Dir(b.dir))
	return nil
}

// stopEmptySlices stops the slices from dir up to the root's slice while
// they hold no cgroup.
func stopEmptySlices(ctx context.Context, conn *sdbus.Conn, root rootdir.Root, dir string) {
	top := filepath.Join(mountBase, sliceBase, slicePath(rootSlice(root)))
	for strings.HasPrefix(dir, top) && strings.HasSuffix(dir, ".slice") {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			if e.IsDir() {
				return // another sandbox's scope (or slice)
			}
		}
		if stopUnit(ctx, conn, filepath.Base(dir)) != nil {
			return
		}
		if dir == top {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// stopUnit stops a unit and forgets a failed state; a unit that is not
// loaded any more is stopped already.
func stopUnit(ctx context.Context, conn *sdbus.Conn, unit string) error {
	ch := make(chan string, 1)
	_, err := conn.StopUnitContext(ctx, unit, "replace", ch)
	if err == nil {
		err = waitJob(ctx, "stop "+unit, ch)
	}
	_ = conn.ResetFailedUnitContext(ctx, unit)
	if err != nil && !isNoSuchUnit(err) {
		return fmt.Errorf("stop %s: %w", unit, err)
	}
	return nil
}

// gone reports an error of a cgroup file systemd removed: ENOENT, or
// ENODEV when it went while the file was open.
func gone(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV)
}

// procs: systemd removes the scope's cgroup as soon as it is empty, which
// is as good as empty.
func (b *systemdBackend) procs() ([]int, error) {
	p, err := b.v2Backend.procs()
	if gone(err) {
		return nil, nil
	}
	return p, err
}

// killAll: cgroup.kill (the scope's delegated subtree included) until the
// cgroup is empty or gone.
func (b *systemdBackend) killAll(ctx context.Context) error {
	return killUntilEmpty(ctx, b.procs, func() error {
		if err := os.WriteFile(filepath.Join(b.dir, "cgroup.kill"), []byte("1"), 0o644); err != nil && !gone(err) {
			return err
		}
		return nil
	})
}
