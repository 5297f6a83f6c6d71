package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"nucleus/reconcile"
	"nucleus/reconcile/api"
)

// parseScale reads --scale SERVICE=N values.
func parseScale(vals []string) (map[string]int, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := map[string]int{}
	for _, v := range vals {
		name, num, ok := strings.Cut(v, "=")
		n, err := strconv.Atoi(num)
		if !ok || name == "" || err != nil {
			return nil, fmt.Errorf("--scale %q: expected SERVICE=N, like web=3", v)
		}
		m[name] = n
	}
	return m, nil
}

// scaleArgs are --scale values for the detached supervisor.
func scaleArgs(m map[string]int) []string {
	var out []string
	for name, n := range m {
		out = append(out, "--scale", fmt.Sprintf("%s=%d", name, n))
	}
	return out
}

// exitWatch serves --abort-on-container-exit: it reports the first replica
// that exits while up runs in the foreground (one that ran before up and
// stays exited does not count), with the exit code of --exit-code-from's
// service when that one exited.
type exitWatch struct {
	since    time.Time
	from     string // --exit-code-from SERVICE ("" none)
	alive    map[string]bool
	fromCode *int
	hitCode  *int // the exit code of the replica that ended the run
}

// check looks at the replicas once; it returns the one that exited, if any.
func (w *exitWatch) check(rows []reconcile.ReplicaStatus) *reconcile.ReplicaStatus {
	var hit *reconcile.ReplicaStatus
	for i := range rows {
		r := &rows[i]
		if r.State.Alive() {
			w.alive[r.Name] = true
			continue
		}
		exited := r.ExitCode != nil && r.State != reconcile.StateStopped && r.State != reconcile.StateWaiting
		if !exited || !w.alive[r.Name] && r.StartedAt.Before(w.since) {
			continue
		}
		if r.Service == w.from && w.fromCode == nil {
			w.fromCode = r.ExitCode
		}
		if hit == nil {
			hit, w.hitCode = r, r.ExitCode
		}
	}
	return hit
}

// watchExits polls the supervisor's status until a replica exits (abort)
// or ctx ends.
func watchExits(ctx context.Context, in *api.Instance, w *exitWatch, stderr io.Writer, abort func()) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := in.Status()
		if err != nil {
			continue
		}
		if r := w.check(st.Replicas); r != nil {
			fmt.Fprintf(stderr, "%s exited with code %d: stopping everything (--abort-on-container-exit)\n", r.Name, *r.ExitCode)
			abort()
			return
		}
	}
}
