package oneoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"nucleus/internal/rootdir"
	"nucleus/network"
	"nucleus/runtime"
)

// Sweep removes what runs whose process died left behind (a SIGKILLed
// `nucleus run` runs no deferred cleanup): the sandbox (cgroup, state,
// mounts; its init died with the run by its parent-death signal) and the
// run's network attachments, addresses and networks. Runs whose owner still
// lives are left alone. It returns the ids it cleaned.
func Sweep(ctx context.Context, root rootdir.Root) ([]string, error) {
	if _, err := os.Stat(runsDir(root)); os.IsNotExist(err) {
		return nil, nil
	}
	// Held while records are judged and cleaned: see lockRuns.
	unlock, err := lockRuns(root)
	if err != nil {
		return nil, err
	}
	defer unlock()
	entries, err := os.ReadDir(runsDir(root))
	if err != nil {
		return nil, fmt.Errorf("list one-off run records: %w", err)
	}
	var cleaned []string
	var errs []error
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		rec, err := readRecord(root, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rec.alive() {
			continue
		}
		if err := cleanup(ctx, root, rec); err != nil {
			errs = append(errs, err)
			continue
		}
		cleaned = append(cleaned, rec.ID)
	}
	return cleaned, errors.Join(errs...)
}

func readRecord(root rootdir.Root, id string) (Record, error) {
	var rec Record
	b, err := os.ReadFile(recordPath(root, id))
	if err != nil {
		return rec, fmt.Errorf("read run record %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("decode run record %s: %w", id, err)
	}
	if rec.ID != id {
		return rec, fmt.Errorf("run record %s names sandbox %q", id, rec.ID)
	}
	return rec, nil
}

// cleanup removes a dead run's sandbox, then its networks (the namespace
// goes before its links), then the record.
func cleanup(ctx context.Context, root rootdir.Root, rec Record) error {
	if err := removeSandbox(ctx, root, rec.ID); err != nil {
		return err
	}
	if rec.Net != nil {
		if err := network.CleanupRun(ctx, root, *rec.Net); err != nil {
			return err
		}
	}
	if err := os.Remove(recordPath(root, rec.ID)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove run record of %s: %w", rec.ID, err)
	}
	return nil
}

// removeSandbox removes what is left of the dead run's sandbox, even with
// its state directory gone: Remove deletes that and the cgroup in parallel,
// so a run killed there may have left the cgroup alone.
func removeSandbox(ctx context.Context, root rootdir.Root, id string) error {
	if err := runtime.RemoveAbandoned(ctx, root, id); err != nil {
		return fmt.Errorf("clean up sandbox of dead run %s: %w", id, err)
	}
	return nil
}
