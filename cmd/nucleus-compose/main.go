// Command nucleus-compose converts compose files for nucleus: it reads
// compose.LoadOptions as JSON on standard input and writes the result (or
// the error) as JSON on standard output. nucleus runs it from beside
// itself (composeapi.Convert) so that compose-go, whose packages do costly
// work at init, is not linked into every `nucleus` start (issue 15).
package main

import (
	"os"

	"nucleus/compose"
)

func main() { os.Exit(compose.Serve(os.Stdin, os.Stdout)) }
