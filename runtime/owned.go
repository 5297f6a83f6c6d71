package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/runtime/cgroups"
	"nucleus/runtime/sbinit"
)

// ProjectSandboxes lists the sandboxes of project that the state root holds,
// found by the runtime's own records (Root.Run/sandboxes/<id>/record.json,
// their Project field), whatever a supervisor recorded and whatever form
// the ids have. unreadable lists state directories whose record is missing
// or cannot be decoded: they cannot be attributed to a project.
func ProjectSandboxes(root rootdir.Root, project string) (ids, unreadable []string, err error) {
	dir := filepath.Join(root.Run, "sandboxes")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list sandbox state in %s: %w", dir, err)
	}
	for _, e := range ents {
		if !e.IsDir() || !validID.MatchString(e.Name()) {
			continue
		}
		rec, err := ReadRecord(root, e.Name())
		switch {
		case errors.Is(err, os.ErrNotExist):
			if _, serr := os.Stat(filepath.Join(dir, e.Name())); serr == nil {
				unreadable = append(unreadable, e.Name())
			}
		case err != nil:
			unreadable = append(unreadable, e.Name())
		case rec.Project == project && rec.ID == e.Name():
			ids = append(ids, e.Name())
		}
	}
	return ids, unreadable, nil
}

// RemoveProjectSandboxes removes every sandbox ProjectSandboxes finds for
// project, except those keep accepts (nil keeps none), then checks that
// nothing of them is left: state directory, cgroup, init process. It
// returns the ids it removed; the error names what is left and why.
func RemoveProjectSandboxes(ctx context.Context, root rootdir.Root, project string, keep func(id string) bool) ([]string, error) {
	ids, _, err := ProjectSandboxes(root, project)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, id := range ids {
		if keep != nil && keep(id) {
			continue
		}
		if err := RemoveAbandoned(ctx, root, id); err != nil {
			errs = append(errs, err)
		}
		left, err := Remains(root, id)
		if err != nil {
			errs = append(errs, err)
		} else if len(left) > 0 {
			errs = append(errs, fmt.Errorf("sandbox %s of project %s is left after removal: %s", id, project, strings.Join(left, ", ")))
		} else {
			removed = append(removed, id)
		}
	}
	return removed, errors.Join(errs...)
}

// Remains describes what exists of sandbox id on the host: its state
// directory, its cgroups, a live init. Empty when nothing is left.
func Remains(root rootdir.Root, id string) ([]string, error) {
	var out []string
	if _, err := os.Stat(sandboxDir(root.Run, id)); err == nil {
		out = append(out, "state directory "+sandboxDir(root.Run, id))
	}
	cgs, err := cgroups.Of(root, id)
	if err != nil {
		return nil, fmt.Errorf("what is left of sandbox %s: %w", id, err)
	}
	for _, cg := range cgs {
		out = append(out, "cgroup "+cg)
	}
	inits := initProcs(root)
	for pid, sid := range inits {
		if sid == id {
			out = append(out, "init process "+strconv.Itoa(pid))
		}
	}
	// The recorded init, also when its command line is not an init's.
	if rec, err := ReadRecord(root, id); err == nil && inits[rec.PID] != id {
		if st, err := procstat.StartTime(rec.PID); err == nil && st == rec.StartTime {
			out = append(out, "init process "+strconv.Itoa(rec.PID)+" (recorded)")
		}
	}
	return out, nil
}

// initProcs maps the live (not zombie) sandbox inits of root to their
// sandbox ids, by their command line.
func initProcs(root rootdir.Root) map[int]string {
	out := map[int]string{}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := bytes.Split(b, []byte{0})
		if len(args) >= 4 && string(args[1]) == sbinit.InitArg && string(args[2]) == root.ID() {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			out[pid] = string(args[3])
		}
	}
	return out
}
