package testutil

import "os"

// OfflineProxy is the HTTPS proxy of every test process and of what it
// runs: a closed port on loopback. A registry reference that is not the
// in-process one on 127.0.0.1 (docker.io/..., a bare name) then fails at
// once with "proxyconnect tcp: dial tcp 127.0.0.1:9: connection refused"
// instead of resolving the registry's name through the host's resolver:
// tests reach only loopback and their own namespaces. Go never proxies
// loopback hosts, so the test registry is reached directly.
const OfflineProxy = "http://127.0.0.1:9"

func init() {
	// Set before any HTTP client reads the environment (it is read once);
	// a NO_PROXY of the host could exempt a registry, so it goes.
	_ = os.Setenv("HTTPS_PROXY", OfflineProxy)
	_ = os.Unsetenv("https_proxy")
	_ = os.Unsetenv("NO_PROXY")
	_ = os.Unsetenv("no_proxy")
}
