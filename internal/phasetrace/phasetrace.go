// Package phasetrace is the one switch for start-up phase timings:
// NUCLEUS_TRACE=1 makes the nucleus binary and the sandbox init print each
// phase with a timestamp to stderr (performance work). It depends on the
// standard library only, so the small init binary stays small.
package phasetrace

import (
	"fmt"
	"os"
	"time"
)

// On reports whether NUCLEUS_TRACE was set when the process started.
var On = os.Getenv("NUCLEUS_TRACE") != ""

// Mark prints one phase: pid, milliseconds within the current second (lines
// of the nucleus process and its init interleave on one clock), and what.
func Mark(what string) {
	if On {
		fmt.Fprintf(os.Stderr, "[%d %9.3fms] %s\n", os.Getpid(), float64(time.Now().UnixMicro()%1000000)/1000, what)
	}
}
