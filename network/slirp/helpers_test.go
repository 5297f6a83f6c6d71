package slirp

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"nucleus/network/dns"

	"nucleus/internal/testutil"
)

// sleeperInNetns starts a process in a new network namespace (the shape of a
// sandbox init) and kills it at cleanup.
func sleeperInNetns(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// linkIn returns the link name in the namespace, or an error.
func linkIn(nsPath, name string) (netlink.Link, error) {
	h, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	return nh.LinkByName(name)
}

// greeter serves "hello from NAME\n" on every TCP connection to l.
func greeter(t *testing.T, l net.Listener, name string) {
	testutil.Serve(t, l, func(c net.Conn) {
		fmt.Fprintf(c, "hello from %s\n", name)
		c.Close()
	})
}

// listenInNetns creates a TCP listener inside the namespace.
func listenInNetns(t *testing.T, nsPath, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := dns.InNetns(nsPath, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return l
}

// readGreeting connects with dial and returns the first line.
func readGreeting(dial func() (net.Conn, error)) (string, error) {
	c, err := dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return line, err
}

// outsideHost makes a namespace standing in for a host on the internet,
// reachable from the host through a veth pair (testutil.LinkOutside).
// Returns the namespace and its address.
func outsideHost(t *testing.T) (string, net.IP) {
	t.Helper()
	ns := testutil.NewNetns(t)
	o := testutil.LinkOutside(t, ns, 18, "nst")
	return ns, net.ParseIP(o.Addrs[0]).To4()
}
