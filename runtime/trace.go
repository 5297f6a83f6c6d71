package runtime

import "nucleus/internal/phasetrace"

// NUCLEUS_TRACE=1 prints start-up phase timings to stderr (phasetrace).
var traceOn = phasetrace.On

func trace(what string) { phasetrace.Mark(what) }
