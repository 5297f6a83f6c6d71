// Command nucleus supervises sandboxed services from nucleus.yaml files.
// This package is thin: flag parsing and printing only; the work happens in
// spec, reconcile, runtime and network.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"nucleus/internal/keeper"
	"nucleus/internal/phasetrace"
	"nucleus/network"
	"os"

	"nucleus/image/unpack"
)

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	unpack.RunHelper() // the child of a rootless unpack (image/unpack/userns.go)
	keeper.MaybeRun()  // a rootless project's user namespace (internal/keeper)
	network.RunHubOp() // an operation in a rootless hub (network/rootless_hub.go)
	// NUCLEUS_TRACE: the command's own span, so bench/phases.sh can split
	// a run into process start, command, and process exit.
	phasetrace.Mark("cli: main")
	root := newRootCmd(os.Args[1:])
	err := root.Execute()
	phasetrace.Mark("cli: done")
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil && ee.err.Error() != "" {
				fmt.Fprintln(os.Stderr, ee.err)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "nucleus:", err)
		os.Exit(1)
	}
}

// printJSON writes v as indented JSON (HTML characters unescaped), the one
// --json format of every command.
func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSONLine writes v as one line of JSON (streams: events --json).
func printJSONLine(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
