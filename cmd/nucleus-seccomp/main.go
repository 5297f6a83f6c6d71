// Command nucleus-seccomp compiles seccomp filters for nucleus with
// libseccomp: it reads a seccomp.Request as JSON on standard input and
// writes the BPF (or the error) as JSON on standard output. nucleus runs it
// from beside itself only when its BPF cache misses, so that the nucleus
// binary needs no cgo (issue 15).
package main

import (
	"os"

	"nucleus/runtime/seccomp"
	"nucleus/runtime/seccomp/compiler"
)

func main() { os.Exit(seccomp.Serve(os.Stdin, os.Stdout, compiler.Compile)) }
