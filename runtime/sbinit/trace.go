package sbinit

import (
	"fmt"
	"os"
	"time"
)

// NUCLEUS_TRACE=1 prints start-up phase timings to stderr (performance work).
var traceOn = os.Getenv("NUCLEUS_TRACE") != ""

var traceStart = time.Now()

func trace(what string) {
	if traceOn {
		fmt.Fprintf(os.Stderr, "[%d %9.3fms] %s\n", os.Getpid(), float64(time.Now().UnixMicro()%1000000)/1000, what)
	}
}
