package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"nucleus/internal/procstat"
)

// WaitFor polls ok every 10 ms until it holds, and fails the test naming
// what it waited for when timeout passes first.
func WaitFor(t testing.TB, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FreePort returns a port that is free for both TCP and UDP on every host
// address right now (a test may publish either protocol on it).
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if u, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", p)); err == nil {
			u.Close()
			return p
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

// Alive reports whether pid exists and has not exited: a zombie does not
// count (this machine's PID 1 reaps orphans late).
func Alive(pid int) bool {
	return procstat.Running(pid)
}

// RandHex returns 2n random hex digits, for names unique to one test run.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FileExists reports whether p exists (following links).
func FileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Median is the middle of ds (the upper one of an even count), which ds
// keeps in its order.
func Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
