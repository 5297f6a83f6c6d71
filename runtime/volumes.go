package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"nucleus/internal/rootdir"
	"nucleus/spec"
)

// VolumeDir is where named volume name of project lives on the host.
func VolumeDir(root rootdir.Root, project, name string) string {
	return filepath.Join(root.Data, "volumes", project, name)
}

// ResolveMounts turns a service's volume mounts into host mounts: bind
// sources must exist; named volumes of type dir are created under the data
// root, owned by the container root of the project (the mapped uid under
// `userns: private`); tmpfs volumes (anonymous or named) get their size.
func ResolveMounts(root rootdir.Root, project string, svc *spec.Service, volumes map[string]*spec.Volume) ([]ResolvedMount, error) {
	var out []ResolvedMount
	for _, m := range svc.Volumes {
		rm := ResolvedMount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly, Size: m.Size, Chown: m.Chown}
		switch m.Type {
		case spec.MountBind:
			if _, err := os.Stat(m.Source); err != nil {
				return nil, fmt.Errorf("volume %s: bind source: %w", m.Target, err)
			}
		case spec.MountTmpfs:
			if v := volumes[m.Source]; m.Source != "" && v != nil && v.Size > 0 && rm.Size == 0 {
				rm.Size = v.Size
			}
		case spec.MountVolume:
			if v := volumes[m.Source]; v != nil && v.Type == spec.VolumeTypeTmpfs {
				rm.Type, rm.Size = spec.MountTmpfs, v.Size
				break
			}
			dir := VolumeDir(root, project, m.Source)
			if err := ensureVolumeDir(root, project, svc, dir); err != nil {
				return nil, fmt.Errorf("volume %s: %w", m.Source, err)
			}
			rm.Source = dir
		default:
			return nil, fmt.Errorf("volume %s: unknown mount type %q", m.Target, m.Type)
		}
		out = append(out, rm)
	}
	return out, nil
}

func ensureVolumeDir(root rootdir.Root, project string, svc *spec.Service, dir string) error {
	// <data>/volumes is for host root only: other local users must not read
	// what workloads write (file names are guessable from the YAML). The
	// sandbox never walks this path: the volume arrives as a detached mount,
	// so the leaf can stay 0755 for non-root users inside the sandbox.
	// Chmod also tightens volumes created by older versions (0711).
	vols := filepath.Join(root.Data, "volumes")
	if err := os.MkdirAll(root.Data, 0o711); err != nil {
		return fmt.Errorf("create data root: %w", err)
	}
	if err := os.MkdirAll(vols, 0o700); err != nil {
		return fmt.Errorf("create volume directory: %w", err)
	}
	if err := os.Chmod(vols, 0o700); err != nil {
		return fmt.Errorf("protect volume directory: %w", err)
	}
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("create volume directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return fmt.Errorf("create volume directory: %w", err)
	}
	if svc.Security.UserNS != spec.UserNSHost {
		base, err := ProjectIDRange(root, project)
		if err != nil {
			return err
		}
		if err := os.Chown(dir, int(base), int(base)); err != nil {
			return fmt.Errorf("hand volume to the project's container root: %w", err)
		}
	}
	return nil
}
