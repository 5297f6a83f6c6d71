// imagepull pulls and unpacks one image into a state root's image store
// through image/pull, the code `nucleus pull` and `up` use, and prints the
// unpacked tree's path. bench/image.sh times it when the binary it
// benchmarks has no `pull` command, and uses the tree as --rootfs when it
// has no `run --image`.
//
//	go run ./bench/imagepull --root /tmp/r 127.0.0.1:5000/big:1
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"nucleus/image/pull"
	"nucleus/image/ref"
	"nucleus/image/store"
	"nucleus/internal/rootdir"
)

func main() {
	root := flag.String("root", "", "state root (as nucleus --root)")
	flag.Parse()
	if flag.NArg() != 1 || *root == "" {
		fmt.Fprintln(os.Stderr, "usage: imagepull --root DIR REF")
		os.Exit(2)
	}
	tree, err := run(*root, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagepull:", err)
		os.Exit(1)
	}
	fmt.Println(tree)
}

func run(root, s string) (string, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	r, err := ref.Parse(s, cwd)
	if err != nil {
		return "", err
	}
	st, err := store.Open(rootdir.Resolve(root).Data)
	if err != nil {
		return "", err
	}
	img, err := pull.Pull(context.Background(), st, r, pull.Options{Unpack: true})
	if err != nil {
		return "", fmt.Errorf("pull %s: %w", s, err)
	}
	return st.TreePath(img)
}
