// Package launch is the one launch path of a sandbox, shared by `nucleus
// run` and the supervisor (through reconcile/host): prepare (volumes,
// addresses reserved, generated files naming them), create, attach to the
// networks, start. A failure undoes exactly what was done, in reverse
// order (detach, remove, release), and names the step that failed.
//
// The network side comes in as an interface, so that runtime and network
// stay unaware of each other and both callers bring their own.
package launch

import (
	"context"
	"errors"
	"fmt"

	"nucleus/runtime"
	"nucleus/spec"
)

// Network is the network side of one launch.
type Network interface {
	// Reserve reserves the sandbox's address on each network and returns
	// the one on the first ("" without networks), which /etc/hosts names.
	// What it reserved before an error stays for Release to undo.
	Reserve(ctx context.Context) (own string, err error)
	// Files generates /etc/resolv.conf and /etc/hosts (naming own).
	Files(svc *spec.Service, own string) (map[string][]byte, error)
	// Attach connects the created sandbox (its init's pid) to each network.
	// On an error it returns the network that failed; what was attached
	// before it stays for Detach to undo.
	Attach(ctx context.Context, pid int) (network string, err error)
	// Detach undoes Attach, also a partial one.
	Detach(ctx context.Context) error
	// Release gives back what Reserve reserved for a sandbox that will not
	// run (a reservation the caller keeps by design may stay).
	Release(ctx context.Context) error
}

// The steps, as Error.Step names them.
const (
	StepVolumes  = "resolve volumes"
	StepNetworks = "prepare networks" // reserve addresses, generate files
	StepCreate   = "create sandbox"
	StepAttach   = "attach to network"
	StepStart    = "start workload"
)

// Request is one sandbox to launch.
type Request struct {
	// Config describes the sandbox (see host.SandboxConfig); Launch fills
	// in Mounts and Files.
	Config runtime.Config
	// Service is what Config was converted from: Net generates the
	// sandbox's files from it.
	Service *spec.Service
	// Net is the network side; nil for a sandbox without networks.
	Net Network
	// BeforeStart, when set, runs after the attach, right before the
	// workload starts (a terminal put in raw mode, say). An error fails
	// the launch at StepStart.
	BeforeStart func(*runtime.Sandbox) error
}

// Error is a failed launch: the step that failed (and at StepAttach, the
// network) and why, and what went wrong undoing the steps before it (nil:
// everything was undone).
type Error struct {
	Step    string
	Network string
	Err     error
	Undo    error
}

func (e *Error) Error() string {
	msg := e.Step
	if e.Network != "" {
		msg += " " + e.Network
	}
	msg += ": " + e.Err.Error()
	if e.Undo != nil {
		msg += " (and undoing the launch: " + e.Undo.Error() + ")"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// FailedAt reports the step at which err (from Launch) failed; "" when err
// is no launch error.
func FailedAt(err error) string {
	var le *Error
	if errors.As(err, &le) {
		return le.Step
	}
	return ""
}

// Launch creates, attaches and starts one sandbox. On an error nothing of
// it is left: what the steps before the failing one did is undone in
// reverse order, even when ctx is cancelled.
func Launch(ctx context.Context, req Request) (*runtime.Sandbox, error) {
	var undo []func(context.Context) error
	var network string // at StepAttach: the network that failed
	fail := func(step string, err error) error {
		uctx := context.WithoutCancel(ctx)
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i](uctx))
		}
		return &Error{Step: step, Network: network, Err: err, Undo: errors.Join(errs...)}
	}
	cfg := req.Config
	mounts, err := runtime.ResolveMounts(cfg)
	if err != nil {
		return nil, fail(StepVolumes, err)
	}
	cfg.Mounts = mounts
	if req.Net != nil {
		// Reserving may have taken some addresses before it failed.
		undo = append(undo, req.Net.Release)
		own, err := req.Net.Reserve(ctx)
		if err == nil {
			cfg.Files, err = req.Net.Files(req.Service, own)
		}
		if err != nil {
			return nil, fail(StepNetworks, err)
		}
	}
	// Create undoes its own partial work (runtime owns that path).
	sb, err := runtime.Create(ctx, cfg)
	if err != nil {
		return nil, fail(StepCreate, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		if err := sb.Remove(ctx); err != nil {
			return fmt.Errorf("remove sandbox %s: %w", cfg.ID, err)
		}
		return nil
	})
	if req.Net != nil {
		undo = append(undo, req.Net.Detach)
		var err error
		if network, err = req.Net.Attach(ctx, sb.PID()); err != nil {
			return nil, fail(StepAttach, err)
		}
	}
	if req.BeforeStart != nil {
		if err := req.BeforeStart(sb); err != nil {
			return nil, fail(StepStart, err)
		}
	}
	if err := sb.Start(); err != nil {
		return nil, fail(StepStart, err)
	}
	return sb, nil
}
