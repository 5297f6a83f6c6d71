package main

import (
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// TestTestsResolveNoRegistry: a test whose project names a registry other
// than the in-process one on 127.0.0.1 (docker.io, a bare name) fails at
// once at testutil.OfflineProxy, a closed loopback port, with no lookup of
// the registry's name through the host's resolver (a test with an image
// docker.io/... was seen asking the host's DNS server).
func TestTestsResolveNoRegistry(t *testing.T) {
	for _, ref := range []string{"docker.io/library/busybox:1.36", "busybox"} {
		dir := writeProject(t, map[string]string{"nucleus.yaml": "name: offline\nservices:\n  web:\n    image: " + ref + "\n"})
		_, errs, code := runBin(t, dir, "", "pull")
		if code == 0 || !strings.Contains(errs, "proxyconnect tcp: dial tcp "+strings.TrimPrefix(testutil.OfflineProxy, "http://")) ||
			strings.Contains(errs, "lookup ") {
			t.Errorf("pull of %s in a test: exit %d, want a failure at the proxy %s and no name lookup:\n%s", ref, code, testutil.OfflineProxy, errs)
		}
	}
}
