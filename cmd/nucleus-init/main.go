// Command nucleus-init is the PID 1 of every nucleus sandbox, started by the
// nucleus binary (which looks for it next to itself). It is a separate, small
// binary because it lives as long as the service: it links only what the
// init needs (the nucleus binary's package set would triple its memory).
// Without it, nucleus re-executes itself as the init.
package main

import "nucleus/runtime/sbinit"

func main() { sbinit.Main() }
