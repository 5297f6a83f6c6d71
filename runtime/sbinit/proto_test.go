package sbinit

import (
	"testing"

	"golang.org/x/sys/unix"
)

// reportWithUnread returns a socket pair whose init end has sent an error
// report while a Message of the caller's is still unread in its queue.
func reportWithUnread(t *testing.T) (caller, init int) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	caller, init = fds[0], fds[1]
	t.Cleanup(func() { unix.Close(caller) })
	if err := Send(caller, &Message{Kind: "cgroup"}); err != nil {
		t.Fatal(err)
	}
	if err := Send(init, &Message{Kind: "error", Err: "refused"}); err != nil {
		t.Fatal(err)
	}
	return caller, init
}

// wantReportThenEOF: Recv on caller gives the init's report, then ErrEOF.
func wantReportThenEOF(t *testing.T, caller int) {
	t.Helper()
	m, _, err := Recv(caller)
	if err != nil || m.Err != "refused" {
		t.Fatalf("Recv = %+v, %v; want the init's error report", m, err)
	}
	if _, _, err := Recv(caller); err != ErrEOF {
		t.Errorf("second Recv: %v, want ErrEOF", err)
	}
}

// A peer that reports an error and exits while a Message of ours is still
// unread in its queue: the report must arrive, not ECONNRESET.
func TestRecvAfterPeerClosedWithUnreadMessage(t *testing.T) {
	caller, init := reportWithUnread(t)
	unix.Close(init) // with "cgroup" unread
	wantReportThenEOF(t, caller)
}

// The same, with the peer exiting between Recv's peek at its report and the
// read of it (seen under load in the cgroup v2 VM: TestHostViewMissingTargets
// got 'connection reset by peer' instead of the init's error).
func TestRecvWhenPeerClosesAfterPeek(t *testing.T) {
	caller, init := reportWithUnread(t)
	afterPeek = func() { unix.Close(init); afterPeek = nil } // with "cgroup" unread
	t.Cleanup(func() { afterPeek = nil })
	wantReportThenEOF(t, caller)
}
