// pause is the pod sandbox's process for the test cluster of
// test/k8s/cluster: no registry is reachable here, so the image the
// kubelet's containerd uses as sandbox_image is built from this. It holds
// the pod's namespaces, reaps children (it is PID 1 of a shared PID
// namespace) and exits on SIGTERM or SIGINT, as registry.k8s.io/pause does.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
