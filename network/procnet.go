package network

import (
	"os"
	"runtime"
)

// readProcNet reads /proc/net/NAME of the host's network namespace.
// /proc/net follows the thread group leader, and a goroutine entering a
// hub namespace (dns.Server.ListenInNetns) may be running on that very
// thread at the time; a thread this goroutine holds locked is one nobody
// else switched, so its own view (/proc/thread-self) is the host's.
func readProcNet(name string) ([]byte, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return os.ReadFile("/proc/thread-self/net/" + name)
}
