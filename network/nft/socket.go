package nft

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// Socket is an nftables connection over a NETLINK_NETFILTER socket that
// another process opened: a netlink socket keeps the network namespace it
// was made in, and the kernel checks CAP_NET_ADMIN against the opener's
// credentials and the sender's (the owner of a user namespace has every
// capability in it). So an ordinary user's process that cannot setns into
// its rootless hub can still change the hub's sets over a socket a helper
// made inside and passed back, with no process per change.
type Socket struct {
	mu     sync.Mutex
	fd     int
	portid uint32
	buf    []byte
}

// NewSocket takes over f, a NETLINK_NETFILTER socket (f is closed).
func NewSocket(f *os.File) (*Socket, error) {
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("nftables socket: %w", err)
	}
	unix.CloseOnExec(fd)
	fail := func(what string, err error) (*Socket, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("nftables socket: %s: %w", what, err)
	}
	if proto, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || proto != unix.NETLINK_NETFILTER {
		return fail("not a NETLINK_NETFILTER socket", fmt.Errorf("protocol %d: %v", proto, err))
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail("bind", err)
	}
	sa, err := unix.Getsockname(fd)
	nl, ok := sa.(*unix.SockaddrNetlink)
	if err != nil || !ok {
		return fail("address", fmt.Errorf("%v (%T)", err, sa))
	}
	// The kernel answers at once; a bound wait keeps a lost answer from
	// holding a DNS reply (and the lock) for ever.
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2}); err != nil {
		return fail("receive timeout", err)
	}
	return &Socket{fd: fd, portid: nl.Pid, buf: make([]byte, os.Getpagesize())}, nil
}

// Close closes the socket (which lets its network namespace go).
func (s *Socket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

// AddAllowed is AddAllowed on the socket's namespace.
func (s *Socket) AddAllowed(table, id string, ips []net.IP, lifetime time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return fmt.Errorf("nftables socket closed")
	}
	// google/nftables dials its own sockets; its one seam for another
	// socket is the function a test dial hands every request to and asks
	// for every answer (nil), which here are the real socket's send and
	// receive.
	c, err := nftables.New(nftables.WithTestDial(s.exchange))
	if err != nil {
		return err
	}
	return addAllowed(c, table, id, ips, lifetime)
}

// exchange sends req in one datagram, or (req nil) receives one.
func (s *Socket) exchange(req []netlink.Message) ([]netlink.Message, error) {
	if req != nil {
		var b []byte
		for _, m := range req {
			mb, err := m.MarshalBinary()
			if err != nil {
				return nil, err
			}
			b = append(b, mb...)
		}
		return nil, unix.Sendto(s.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	}
	n, _, err := unix.Recvfrom(s.fd, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
	if err != nil {
		return nil, fmt.Errorf("nftables socket: receive: %w", err)
	}
	if n > len(s.buf) {
		s.buf = make([]byte, n)
	}
	n, _, err = unix.Recvfrom(s.fd, s.buf, 0)
	if err != nil {
		return nil, fmt.Errorf("nftables socket: receive: %w", err)
	}
	return s.parse(s.buf[:n])
}

// parse splits a datagram into messages. Answers carry the socket's port
// id; the test dial's connection expects its own (nltest.PID).
func (s *Socket) parse(b []byte) ([]netlink.Message, error) {
	var out []netlink.Message
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return nil, fmt.Errorf("nftables socket: message of %d bytes in %d", l, len(b))
		}
		m := netlink.Message{Header: netlink.Header{
			Length:   uint32(l),
			Type:     netlink.HeaderType(binary.NativeEndian.Uint16(b[4:6])),
			Flags:    netlink.HeaderFlags(binary.NativeEndian.Uint16(b[6:8])),
			Sequence: binary.NativeEndian.Uint32(b[8:12]),
			PID:      binary.NativeEndian.Uint32(b[12:16]),
		}, Data: append([]byte(nil), b[unix.NLMSG_HDRLEN:l]...)}
		if m.Header.PID == s.portid {
			m.Header.PID = nltest.PID
		}
		out = append(out, m)
		b = b[min(len(b), (l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
	}
	return out, nil
}
