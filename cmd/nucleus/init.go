package main

import "nucleus/runtime"

// The sandbox init is this same binary re-executed with a hidden first
// argument. It must take over before cobra or anything else runs, so it
// hooks in as a package init function and never returns on that path.
func init() {
	if runtime.IsInit() {
		runtime.InitMain()
	}
}
