// Command nucleus supervises sandboxed services from nucleus.yaml files.
// This package is thin: flag parsing and printing only; the work happens in
// spec, reconcile, runtime and network.
package main

import (
	"errors"
	"fmt"
	"os"
)

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
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
