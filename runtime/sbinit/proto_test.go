package sbinit

import (
	"testing"

	"golang.org/x/sys/unix"
)

// A peer that reports an error and exits while a Message of ours is still
// unread in its queue: the report must arrive, not ECONNRESET.
func TestRecvAfterPeerClosedWithUnreadMessage(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	caller, init := fds[0], fds[1]
	defer unix.Close(caller)
	if err := Send(caller, &Message{Kind: "cgroup"}); err != nil {
		t.Fatal(err)
	}
	if err := Send(init, &Message{Kind: "error", Err: "refused"}); err != nil {
		t.Fatal(err)
	}
	unix.Close(init) // with "cgroup" unread
	m, _, err := Recv(caller)
	if err != nil || m.Err != "refused" {
		t.Fatalf("Recv = %+v, %v; want the init's error report", m, err)
	}
	if _, _, err := Recv(caller); err != ErrEOF {
		t.Errorf("second Recv: %v, want ErrEOF", err)
	}
}
