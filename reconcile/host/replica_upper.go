package host

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"nucleus/image/unpack"
	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/spec"
)

// ReplicaUpperDir is where a replica's writable layer is kept
// (runtime.Config.UpperDir, for a rootfs with read_only false): under the
// data root, since what the workload wrote must outlive a reboot as much
// as a restart. It is kept while the replica restarts with the same
// configuration, started afresh when the replica is replaced (a
// configuration that needs a restart), and removed when the replica goes
// (Forget: scaled away, removed, `down`).
func ReplicaUpperDir(root rootdir.Root, project, replica string) string {
	return filepath.Join(projectUpperDir(root, project), replica)
}

func projectUpperDir(root rootdir.Root, project string) string {
	return filepath.Join(root.Data, "projects", project, "upper")
}

// upperHashFile names the configuration (reconcile.RestartHash) the layer
// in a ReplicaUpperDir was made for.
const upperHashFile = "config-hash"

// prepareUpperDir makes dir the writable layer of svc's replica: kept when
// it was made for the same configuration, else emptied (the replica was
// replaced by an update, or the directory predates this bookkeeping).
func prepareUpperDir(dir string, svc *spec.Service) error {
	hash := []byte(reconcile.RestartHash(svc) + "\n")
	if old, err := os.ReadFile(filepath.Join(dir, upperHashFile)); err == nil && bytes.Equal(old, hash) {
		return nil
	}
	if err := unpack.RemoveTree(dir); err != nil {
		return fmt.Errorf("start the writable layer afresh: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the writable layer: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, upperHashFile), hash, 0o600); err != nil {
		return fmt.Errorf("record the writable layer's configuration: %w", err)
	}
	return nil
}

// Forget removes the writable layer of a replica that is not coming back,
// or of every replica of the project (replica ""), and the project's
// directory under the data root once nothing else is in it.
func (r Runtime) Forget(ctx context.Context, project, replica string) error {
	dir := projectUpperDir(r.Root, project)
	if replica != "" {
		dir = ReplicaUpperDir(r.Root, project, replica)
	}
	if err := unpack.RemoveTree(dir); err != nil {
		return fmt.Errorf("remove writable layer: %w", err)
	}
	// Only when empty: the project's other data stays.
	up := projectUpperDir(r.Root, project)
	for _, d := range []string{up, filepath.Dir(up), filepath.Dir(filepath.Dir(up))} {
		_ = os.Remove(d)
	}
	return nil
}
