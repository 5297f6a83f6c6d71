package sbinit

import "nucleus/internal/phasetrace"

// trace marks a start-up phase when NUCLEUS_TRACE=1 (phasetrace).
func trace(what string) { phasetrace.Mark(what) }
