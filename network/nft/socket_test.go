package nft

import (
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
)

// inNetns runs fn on a thread in the namespace pinned at path; the thread
// is discarded after.
func inNetns(t *testing.T, path string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ns, err := netns.GetFromPath(path)
		if err == nil {
			err = netns.Set(ns)
			ns.Close()
		}
		if err == nil {
			err = fn()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestSocketAddsInItsNamespace: a NETLINK_NETFILTER socket opened in
// another network namespace adds to a domain set there (not here), and
// extends an element's lifetime as AddAllowed does; a refusal leaves it
// usable.
func TestSocketAddsInItsNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	ns := testutil.NewNetns(t)
	const name = "nucleus_socktest"
	var f *os.File
	inNetns(t, ns, func() error {
		if err := Apply(&Table{Name: name, Networks: []Network{{Bridge: "nctestbr0", Subnet: cidr("10.250.8.0/24"), Gateway: net.ParseIP("10.250.8.1"),
			Sandboxes: []Sandbox{{ID: "a", IP: net.ParseIP("10.250.8.2"), HostIf: "nctestv0", Egress: &Egress{Domains: true}}}}}}); err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		f = os.NewFile(uintptr(fd), "nft")
		return err
	})
	s, err := NewSocket(f)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, ttl := range []time.Duration{10 * time.Second, 100 * time.Second, 5 * time.Second} {
		if err := s.AddAllowed(name, "a", []net.IP{net.ParseIP("198.18.0.9"), net.ParseIP("198.18.0.10")}, ttl); err != nil {
			t.Fatalf("AddAllowed over the socket (%v): %v", ttl, err)
		}
	}
	if err := s.AddAllowed(name, "nosuch", []net.IP{net.ParseIP("198.18.0.9")}, time.Second); err == nil {
		t.Errorf("AddAllowed to a set that does not exist: no error")
	}
	// The refusal left nothing unread on the socket.
	if err := s.AddAllowed(name, "a", []net.IP{net.ParseIP("198.18.0.11")}, 100*time.Second); err != nil {
		t.Fatalf("AddAllowed after a refusal: %v", err)
	}
	if els, err := Allowed(name, "a"); err == nil {
		t.Errorf("the set is in this namespace too: %+v", els)
	}
	inNetns(t, ns, func() error {
		els, err := Allowed(name, "a")
		if err != nil || len(els) != 3 || els[0].Expires < 90*time.Second || els[1].Expires < 90*time.Second {
			t.Errorf("Allowed in the socket's namespace = %+v, %v; want the three addresses with about 100s left", els, err)
		}
		return nil
	})
}
