package api

import (
	"time"

	"nucleus/reconcile"
)

// StatusResponse is GET /v1/status: `nucleus ps`.
type StatusResponse struct {
	Project string `json:"project"`
	// PID is the supervisor's PID; 0 when read from the records with no
	// supervisor running.
	PID      int                       `json:"supervisor_pid"`
	Replicas []reconcile.ReplicaStatus `json:"replicas"`
	// Record is the project record: last applied digest, last error, history.
	Record *reconcile.ProjectRecord `json:"record,omitempty"`
}

// ServicesRequest names services: POST /v1/apply, /v1/start, /v1/stop, /v1/restart.
type ServicesRequest struct {
	Services []string `json:"services,omitempty"`
	// Up carries the flags of `nucleus up` (POST /v1/apply); nil (pull's
	// pass) keeps those of the last up.
	Up *reconcile.UpFlags `json:"up,omitempty"`
	// Timeout, when set, replaces stop_grace_period for the stops it does.
	Timeout *time.Duration `json:"timeout,omitempty"`
	// Profiles (apply) are the profiles the caller runs with: the
	// supervisor enables them too (Options.Select).
	Profiles []string `json:"profiles,omitempty"`
}

// ApplyResponse is the outcome of the pass an apply asked for.
type ApplyResponse struct {
	Steps      []reconcile.Step `json:"steps"`
	Digest     string           `json:"digest,omitempty"`
	LoadError  string           `json:"load_error,omitempty"`
	ApplyError string           `json:"apply_error,omitempty"`
}

// DownOptions are `nucleus down`'s flags: POST /v1/down.
type DownOptions struct {
	// Timeout, when set, replaces every service's stop_grace_period.
	Timeout *time.Duration `json:"timeout,omitempty"`
	// Volumes also removes the project's named volumes.
	Volumes bool `json:"volumes,omitempty"`
}

// errorResponse carries a failure of any request.
type errorResponse struct {
	Error string `json:"error"`
}
