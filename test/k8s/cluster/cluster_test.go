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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

const k8sVersion = "v1.37.2"

func TestSingleNodeClusterAndKwok(t *testing.T) {
	testutil.RequireRoot(t)
	bin := os.Getenv("NUCLEUS_K8S_BIN")
	if bin == "" {
		cache := os.Getenv("NUCLEUS_K8S_CACHE")
		if cache == "" {
			cache = "/var/cache/nucleus-k8s"
		}
		bin = filepath.Join(cache, k8sVersion, "bin")
	}
	testutil.Require(t, testutil.FileExists(filepath.Join(bin, ".complete")),
		"Kubernetes tools built into "+bin+" (make k8s-tools)")

	cmd := exec.Command("bash", "cluster.sh")
	cmd.Env = append(os.Environ(), "K8S_BIN="+bin)
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
