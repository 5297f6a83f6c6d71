// Command etcd is etcd's own main, built from the Go module proxy at the
// version k8s.io/kubernetes requires, so the test cluster needs no download.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
