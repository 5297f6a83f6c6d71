package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"strconv"
	"time"

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
		c, err := dialSandbox(ctx, sb, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(hc.TCPPort)))
		if err != nil {
			return err
		}
		return c.Close()
	case spec.HealthHTTP:
		return httpCheck(ctx, sb, hc.HTTPURL)
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

func httpCheck(ctx context.Context, sb reconcile.Sandbox, url string) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialSandbox(ctx, sb, network, addr)
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

// SocketMaker is what a check needs from a sandbox whose network namespace
// the caller cannot enter (an ordinary user's: setns needs CAP_SYS_ADMIN in
// the caller's own user namespace): a socket the sandbox's init made there.
type SocketMaker interface {
	Socket(family int) (*os.File, error)
}

// errSetns marks dialInNetns's failure to enter the namespace.
var errSetns = errors.New("enter network namespace")

// dialSandbox connects from inside sb's network namespace: on a thread
// switched into it, or, where that is not permitted, through a socket its
// init made there.
func dialSandbox(ctx context.Context, sb reconcile.Sandbox, network, addr string) (net.Conn, error) {
	c, err := dialInNetns(ctx, sb.PID(), network, addr)
	sm, ok := sb.(SocketMaker)
	if err == nil || !ok || !errors.Is(err, errSetns) || !errors.Is(err, unix.EPERM) {
		return c, err
	}
	return dialThrough(ctx, sm, network, addr)
}

// dialThrough connects a socket of sm's network namespace to addr (host
// names resolved on the host, as the setns path does with the host's
// files), within ctx's deadline.
func dialThrough(ctx context.Context, sm SocketMaker, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p, err := net.DefaultResolver.LookupPort(ctx, network, port)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		ip = ips[0]
	}
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: p, Addr: [16]byte(ip.To16())})
	if ip4 := ip.To4(); ip4 != nil {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: p, Addr: [4]byte(ip4)}
	}
	f, err := sm.Socket(family)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fd := int(f.Fd()) // blocking: connect waits, bounded by SO_SNDTIMEO
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, ctx.Err()
		}
		tv := unix.NsecToTimeval(max(left, time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
			return nil, fmt.Errorf("connect timeout: %w", err)
		}
	}
	if err := unix.Connect(fd, sa); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: &net.TCPAddr{IP: ip, Port: p}, Err: os.NewSyscallError("connect", err)}
	}
	return net.FileConn(f)
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
			ch <- result{err: fmt.Errorf("%w of pid %d: %w", errSetns, pid, err)}
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
