package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"nucleus/internal/rootdir"
)

// VolumeDir is where named volume name of project lives on the host.
func VolumeDir(root rootdir.Root, project, name string) string {
	return filepath.Join(root.Data, "volumes", project, name)
}

// ResolveMounts turns the sandbox's volumes into host mounts: bind
// sources must exist; named volumes are created under the data root, owned
// by the container root of the project (the mapped uid under a private
// user namespace); tmpfs mounts stay as they are.
func ResolveMounts(cfg Config) ([]ResolvedMount, error) {
	var out []ResolvedMount
	for _, m := range cfg.Service.Volumes {
		rm := ResolvedMount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly, Size: m.Size, Chown: m.Chown, Mode: m.Mode, Exec: m.Exec, NoExec: m.NoExec}
		switch m.Type {
		case MountBind:
			if _, err := os.Stat(m.Source); err != nil {
				return nil, fmt.Errorf("volume %s: bind source: %w", m.Target, err)
			}
		case MountTmpfs:
		case MountVolume:
			dir := VolumeDir(cfg.Root, cfg.dataProject(), m.Source)
			if err := ensureVolumeDir(cfg.Root, cfg.dataProject(), cfg.Service.Security.HostUserNS, dir); err != nil {
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

func ensureVolumeDir(root rootdir.Root, project string, hostUserNS bool, dir string) error {
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
	if !hostUserNS && !Rootless() {
		// (Rootless: the user made it, and the user is container root.)
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
