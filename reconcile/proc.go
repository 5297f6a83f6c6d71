package reconcile

import (
	"os"
	"strings"
)

// BootID identifies the current boot; records from another boot are stale
// even when a PID and start time happen to match.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
