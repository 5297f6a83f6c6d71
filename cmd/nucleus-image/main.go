// Command nucleus-image pulls images into the store and unpacks their
// trees for nucleus, which runs it from beside itself (image/pullapi) only
// when an image or its tree is missing: go-containerregistry and
// klauspost/compress are linked here, not into every nucleus start.
package main

import (
	"os"

	"nucleus/image/pull"
	"nucleus/image/unpack"
)

func main() {
	unpack.RunHelper() // the child of a rootless unpack (image/unpack/userns.go)
	os.Exit(pull.Serve(os.Stdin, os.Stdout))
}
