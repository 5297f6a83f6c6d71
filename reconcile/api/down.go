package api

import (
	"context"
	"errors"
	"os"

	"nucleus/internal/rootdir"
	"nucleus/spec"
)

// Down takes a project down: through its supervisor when one runs (which
// then exits), else directly from the state records (adopt what still runs,
// then stop and remove it). It is idempotent.
func Down(ctx context.Context, root rootdir.Root, project string, o DownOptions) error {
	return Parts{}.Down(ctx, root, project, o)
}

// Down is Down with a supervisor on p when none runs.
func (p Parts) Down(ctx context.Context, root rootdir.Root, project string, o DownOptions) error {
	for {
		c, err := Dial(root, project)
		if err == nil {
			err = c.Down(ctx, root, o)
			if !errors.Is(err, ErrNoSupervisor) {
				return err
			}
			// It went away meanwhile (killed): down from the records.
		}
		if !errors.Is(err, ErrNoSupervisor) {
			return err
		}
		lock, err := TryLock(root, project)
		var running *ErrRunning
		if errors.As(err, &running) {
			continue // a supervisor just started: ask it
		}
		if err != nil {
			return err
		}
		sv, err := p.supervisor(root, project, nil)
		if err != nil {
			lock.Release(false)
			return err
		}
		err = downLocked(ctx, root, project, sv, o, true)
		lock.Release(err == nil)
		if err == nil {
			os.Remove(LogPath(root, project))
			removeEmptyDir(Dir(root))
		}
		return err
	}
}

// Status is `nucleus ps`: from the supervisor when one runs, else from the
// state records (so it works after the supervisor was killed). desired is
// what the files say now (nil when they do not load), for the hash column.
func Status(ctx context.Context, root rootdir.Root, project string, desired *spec.Project) (*StatusResponse, error) {
	return Parts{}.Status(ctx, root, project, desired)
}

// Status is Status inspecting replicas with p when no supervisor runs.
func (p Parts) Status(ctx context.Context, root rootdir.Root, project string, desired *spec.Project) (*StatusResponse, error) {
	c, err := Dial(root, project)
	var st *StatusResponse
	if err == nil {
		st, err = c.Status(ctx) // ErrNoSupervisor: it went away meanwhile
	}
	if err == nil {
		if desired != nil {
			// Compare with the files as this command reads them (the
			// supervisor may not have loaded the latest save yet).
			for i := range st.Replicas {
				r := &st.Replicas[i]
				if s := desired.Services[r.Service]; s != nil {
					r.DesiredHash = spec.ServiceHash(s)
					r.UpToDate = r.DesiredHash == r.Hash
				}
			}
		}
		return st, nil
	}
	if !errors.Is(err, ErrNoSupervisor) {
		return nil, err
	}
	return status(root, project, desired, 0, p.inspector(root), nil)
}
