// Command nucleus-init is the PID 1 of every nucleus sandbox, started by the
// nucleus binary (which looks for it next to itself). It is a separate, small
// binary because it lives as long as the service and starts with every
// sandbox: it depends on golang.org/x/sys only (no cgo: a static binary that
// starts in under 2 ms with a ~3 MB peak RSS, where the whole nucleus binary
// needs about twice the time and four times the memory). Without it, nucleus
// re-executes itself as the init.
package main

import "nucleus/runtime/sbinit"

func main() { sbinit.Main() }
