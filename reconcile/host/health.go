package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	goruntime "runtime"
	"strconv"

	"golang.org/x/sys/unix"

	"nucleus/reconcile"
	"nucleus/spec"
)

// Health runs health checks. TCP and HTTP checks connect from inside the
// sandbox's network namespace, so they test what the service offers to its
// peers (127.0.0.1 is the sandbox's own loopback). Exec checks need the
// sandbox to offer Exec.
type Health struct{}

var _ reconcile.HealthChecker = Health{}

// Execer is what an exec health check needs from a sandbox.
type Execer interface {
	ExecCheck(ctx context.Context, argv []string) (int, error)
}

// Check runs one check: nil means healthy.
func (Health) Check(ctx context.Context, sb reconcile.Sandbox, hc *spec.Healthcheck) error {
	switch hc.Kind {
	case spec.HealthTCP:
		c, err := dialInNetns(ctx, sb.PID(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(hc.TCPPort)))
		if err != nil {
			return err
		}
		return c.Close()
	case spec.HealthHTTP:
		return httpCheck(ctx, sb.PID(), hc.HTTPURL)
	case spec.HealthExec:
		ex, ok := sb.(Execer)
		if !ok {
			return errors.New("exec health check: this sandbox cannot run commands (runtime without Exec)")
		}
		argv := hc.Test[1:]
		if len(hc.Test) > 0 && hc.Test[0] == "CMD-SHELL" {
			argv = []string{"/bin/sh", "-c", hc.Test[1]}
		}
		code, err := ex.ExecCheck(ctx, argv)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("health command exited with code %d", code)
		}
		return nil
	}
	return fmt.Errorf("unknown health check kind %q", hc.Kind)
}

func httpCheck(ctx context.Context, pid int, url string) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialInNetns(ctx, pid, network, addr)
		},
		DisableKeepAlives: true,
		Proxy:             nil, // never a proxy from the host's environment
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check URL %q: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// dialInNetns connects from the network namespace of process pid. The
// socket is created on a thread switched into that namespace (a socket
// belongs to the namespace it was created in); the thread is switched back
// before it is released, or never reused when switching back fails.
func dialInNetns(ctx context.Context, pid int, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			goruntime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("open own network namespace: %w", err)}
			return
		}
		defer unix.Close(self)
		target, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			goruntime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("open network namespace of pid %d: %w", pid, err)}
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			goruntime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter network namespace of pid %d: %w", pid, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if unix.Setns(self, unix.CLONE_NEWNET) == nil {
			goruntime.UnlockOSThread()
		} // else: the thread stays locked and exits with this goroutine
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
