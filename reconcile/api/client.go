package api

import (
	"bytes"
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
)

// ErrNoSupervisor means no supervisor runs for the project.
var ErrNoSupervisor = errors.New("no supervisor is running for the project")

// Client talks to a project's supervisor.
type Client struct {
	Project string
	PID     int // the supervisor's PID as its lock says
	hc      *http.Client
	root    rootdir.Root
}

// Dial connects to the project's supervisor: ErrNoSupervisor when its lock
// is free (a socket left by a killed supervisor is removed then). A
// supervisor that holds the lock but has not opened its socket yet is
// waited for, up to a few seconds.
func Dial(root rootdir.Root, project string) (*Client, error) {
	path := SocketPath(root, project)
	deadline := time.Now().Add(5 * time.Second)
	for {
		pid, running := Running(root, project)
		if !running {
			if _, err := os.Stat(path); err == nil {
				os.Remove(path) // stale: its supervisor is gone
			}
			return nil, ErrNoSupervisor
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return &Client{Project: project, PID: pid, root: root, hc: &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", path)
				},
			}}}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("supervisor of %s (pid %d) holds its lock but does not answer on %s: %w", project, pid, path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *Client) call(ctx context.Context, method, path string, req, resp any) error {
	var body bytes.Buffer
	if req != nil {
		if err := json.NewEncoder(&body).Encode(req); err != nil {
			return err
		}
	}
	r, err := http.NewRequestWithContext(ctx, method, "http://supervisor"+path, &body)
	if err != nil {
		return err
	}
	res, err := c.hc.Do(r)
	if err != nil {
		if ctx.Err() == nil && c.gone(ctx) {
			return fmt.Errorf("supervisor of %s (pid %d) went away (%v): %w", c.Project, c.PID, err, ErrNoSupervisor)
		}
		return fmt.Errorf("supervisor of %s: %w", c.Project, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var e errorResponse
		if err := json.NewDecoder(res.Body).Decode(&e); err != nil || e.Error == "" {
			return fmt.Errorf("supervisor of %s: %s", c.Project, res.Status)
		}
		return errors.New(e.Error)
	}
	if resp == nil {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(resp); err != nil {
		return fmt.Errorf("supervisor of %s: decode reply: %w", c.Project, err)
	}
	return nil
}

// Status is `nucleus ps` from the supervisor.
func (c *Client) Status(ctx context.Context) (*StatusResponse, error) {
	// A status answer needs no pass, so it comes fast even under load; a
	// generous bound still turns a hung supervisor into an error.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, StatusTimeout)
		defer cancel()
	}
	var st StatusResponse
	if err := c.call(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("supervisor of %s (pid %d) did not answer a status request: %w", c.Project, c.PID, err)
		}
		return nil, err
	}
	return &st, nil
}

// StatusTimeout bounds a status request made without a deadline.
var StatusTimeout = 30 * time.Second

// Apply asks for a pass (with the services added to the selection) and
// returns its outcome.
func (c *Client) Apply(ctx context.Context, services []string) (*ApplyResponse, error) {
	return c.apply(ctx, ServicesRequest{Services: services})
}

// ApplyWith is Apply with up's flags (--scale, --no-deps, --force-recreate)
// and the profiles the caller runs with, which the supervisor keeps
// enabled from then on (Options.Select).
func (c *Client) ApplyWith(ctx context.Context, services []string, f reconcile.UpFlags, profiles []string) (*ApplyResponse, error) {
	return c.apply(ctx, ServicesRequest{Services: services, Up: &f, Profiles: profiles})
}

func (c *Client) apply(ctx context.Context, req ServicesRequest) (*ApplyResponse, error) {
	var res ApplyResponse
	return &res, c.call(ctx, http.MethodPost, "/v1/apply", req, &res)
}

// goneWait bounds how long a failed request waits to see whether the
// supervisor went away. A killed one is marked exiting before its socket
// closes, so Running says so at once; the wait is for a lock file without
// a PID (a full disk), whose flock goes only once the kernel has released
// the killed process's files.
const goneWait = 5 * time.Second

// gone reports whether the supervisor went away (its lock is free) after a
// request to it failed, waiting up to goneWait or the end of ctx: a killed
// supervisor's socket still accepts connections that nobody answers until
// its last thread has ended. A live supervisor does not drop requests, so
// the wait is only for one that is exiting.
func (c *Client) gone(ctx context.Context) bool {
	deadline := time.Now().Add(goneWait)
	for {
		if _, running := Running(c.root, c.Project); !running {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Start starts stopped services (and what they depend on).
func (c *Client) Start(ctx context.Context, services []string) error {
	return c.call(ctx, http.MethodPost, "/v1/start", ServicesRequest{Services: services}, nil)
}

// Stop stops services; they stay stopped until Start.
func (c *Client) Stop(ctx context.Context, services []string) error {
	return c.call(ctx, http.MethodPost, "/v1/stop", ServicesRequest{Services: services}, nil)
}

// StopWithin stops services waiting timeout instead of their
// stop_grace_period (stop -t).
func (c *Client) StopWithin(ctx context.Context, services []string, timeout time.Duration) error {
	return c.call(ctx, http.MethodPost, "/v1/stop", ServicesRequest{Services: services, Timeout: &timeout}, nil)
}

// RestartWithin is Restart with timeout in place of stop_grace_period.
func (c *Client) RestartWithin(ctx context.Context, services []string, timeout time.Duration) error {
	return c.call(ctx, http.MethodPost, "/v1/restart", ServicesRequest{Services: services, Timeout: &timeout}, nil)
}

// Restart stops and starts services.
func (c *Client) Restart(ctx context.Context, services []string) error {
	return c.call(ctx, http.MethodPost, "/v1/restart", ServicesRequest{Services: services}, nil)
}

// Down asks the supervisor to take the project down and exit; it returns
// once the supervisor has released its lock.
func (c *Client) Down(ctx context.Context, root rootdir.Root, o DownOptions) error {
	if err := c.call(ctx, http.MethodPost, "/v1/down", o, nil); err != nil {
		return err
	}
	for {
		if _, running := Running(root, c.Project); !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("supervisor of %s took the project down but did not exit: %w", c.Project, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
