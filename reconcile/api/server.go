package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/spec"
)

// listen creates the API socket (mode 0600). The caller holds the lock, so
// a socket file already there is stale and is replaced.
func (in *Instance) listen() (net.Listener, error) {
	path := SocketPath(in.o.Root, in.o.Project)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict %s: %w", path, err)
	}
	return ln, nil
}

func (in *Instance) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := in.Status()
		reply(w, st, err)
	})
	mux.HandleFunc("POST /v1/apply", func(w http.ResponseWriter, r *http.Request) {
		var req ServicesRequest
		if !decode(w, r, &req) {
			return
		}
		if in.o.Select != nil {
			in.o.Select(req.Profiles, req.Services)
		}
		res, err := in.ApplyWith(r.Context(), req.Services, req.Up)
		reply(w, res, err)
	})
	ops := map[string]func(ctx context.Context, sv *reconcile.Supervisor, desired []string) error{
		"start": func(ctx context.Context, sv *reconcile.Supervisor, s []string) error {
			return in.runner.Do(ctx, func(ctx context.Context, p *spec.Project) error { return sv.StartServices(ctx, p, s) })
		},
		"stop": func(ctx context.Context, sv *reconcile.Supervisor, s []string) error {
			return in.runner.Do(ctx, func(ctx context.Context, _ *spec.Project) error { return sv.StopServices(ctx, s) })
		},
		"restart": func(ctx context.Context, sv *reconcile.Supervisor, s []string) error {
			return in.runner.Do(ctx, func(ctx context.Context, p *spec.Project) error { return sv.RestartServices(ctx, p, s) })
		},
	}
	for name, op := range ops {
		mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
			var req ServicesRequest
			if !decode(w, r, &req) {
				return
			}
			ctx := r.Context()
			if req.Timeout != nil {
				ctx = reconcile.WithStopTimeout(ctx, *req.Timeout)
			}
			reply(w, struct{}{}, op(ctx, in.sv, req.Services))
		})
	}
	in.serveEvents(mux)
	in.serveRm(mux)
	mux.HandleFunc("POST /v1/down", func(w http.ResponseWriter, r *http.Request) {
		var req DownOptions
		if !decode(w, r, &req) {
			return
		}
		// Down ends Run (ErrDown); the owner then closes the instance,
		// which waits for this reply to be written.
		err := in.Down(context.WithoutCancel(r.Context()), req)
		reply(w, struct{}{}, err)
	})
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		reply(w, nil, fmt.Errorf("decode request: %w", err))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(errorResponse{Error: err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// Status is `nucleus ps` from this supervisor.
func (in *Instance) Status() (*StatusResponse, error) {
	return status(in.o.Root, in.o.Project, in.runner.Desired(), os.Getpid(), in.o.Parts.inspector(in.o.Root), in.sv.Current)
}

// status reads the records; current (may be nil) corrects them with what a
// running supervisor knows but could not write.
func status(root rootdir.Root, project string, desired *spec.Project, pid int, inspect reconcile.Inspector,
	current func([]*reconcile.SandboxRecord) []*reconcile.SandboxRecord) (*StatusResponse, error) {
	store := reconcile.NewStore(root)
	reps, err := store.StatusCurrent(project, desired, inspect, time.Now(), current)
	if err != nil {
		return nil, err
	}
	pr, err := store.LoadProject(project)
	if err != nil {
		return nil, err
	}
	return &StatusResponse{Project: project, PID: pid, Replicas: reps, Record: pr}, nil
}
