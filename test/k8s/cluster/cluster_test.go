//go:build k8s

// Package cluster runs cluster.sh, the single-node Kubernetes test of the
// export (issue 16, tests 3 and 4), under `go test -tags k8s` (make
// test-k8s): the script brings up the cluster, checks, and proves its
// cleanup; this wrapper streams its output and turns its SKIP into a skip
// (a failure when CI is set, as the script itself does).
package cluster

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"nucleus/export/k8s/k8stest"
	"nucleus/internal/testutil"
)

func TestSingleNodeClusterAndKwok(t *testing.T) {
	testutil.RequireRoot(t)
	bin := k8stest.ToolsDir(t)

	cmd := exec.Command("bash", "cluster.sh")
	// Without testutil.OfflineProxy: the apiserver reaches the kubelet at
	// the node's address in the cluster's own namespace, which must not
	// go through a proxy (kubectl exec would fail).
	env := slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "HTTPS_PROXY=") })
	cmd.Env = append(env, "K8S_BIN="+bin)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	var skip string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if s, ok := strings.CutPrefix(line, "SKIP: prerequisite missing: "); ok {
			skip = s
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("cluster.sh after %s: %v (its output above)", time.Since(start).Round(time.Second), err)
	}
	if skip != "" {
		testutil.Require(t, false, skip)
	}
	t.Logf("cluster.sh: %s wall", time.Since(start).Round(time.Second))
}
