package host

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
	"nucleus/network"
	"nucleus/runtime"
	"nucleus/spec"
)

// TestHealthChecksRunInTheSandboxNetns serves HTTP with busybox inside a
// real sandbox attached to a real project network, and checks it.
func TestHealthChecksRunInTheSandboxNetns(t *testing.T) {
	testutil.RequireRoot(t)
	_, err := os.Stat("/bin/busybox")
	testutil.Require(t, err == nil, "/bin/busybox (Debian package busybox-static)")
	root := testutil.TempRoot(t)
	s := &spec.Service{
		Name: "web", Command: []string{"/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:18080", "-h", "/etc"},
		Hostname: "web", ReadOnly: true, StopSignal: "SIGKILL",
		Security: spec.Security{UserNS: spec.UserNSPrivate, Seccomp: spec.SeccompDefault, Landlock: spec.Landlock{Mode: spec.LandlockDefault}},
	}
	sb, err := runtime.Create(context.Background(), runtime.Config{ID: "hc-web-1", Project: "hc", Service: SandboxService(s, nil), Root: root})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := network.NewManager(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer func() {
		if err := sb.Stop(ctx, 9, time.Second); err != nil {
			t.Error(err)
		}
		if err := mgr.RemoveProject(ctx, "hc"); err != nil {
			t.Error(err)
		}
		leaktest.Check(t, root)
	}()
	// The network brings the sandbox's loopback up (and gives it eth0).
	if _, err := mgr.EnsureNetwork(ctx, "hc", &network.Config{Name: "default", NAT: spec.NATAuto}); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.Attach(ctx, network.Attachment{Project: "hc", Network: "default", Service: "web", Replica: 1, PID: sb.PID()}); err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	h, box := Health{}, sandbox{sb: sb}
	check := func(hc spec.Healthcheck) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return h.Check(ctx, box, &hc)
	}
	// The server needs a moment to listen.
	deadline := time.Now().Add(5 * time.Second)
	for check(spec.Healthcheck{Kind: spec.HealthTCP, TCPPort: 18080}) != nil {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(sb.LogPath())
			t.Fatalf("TCP check never succeeded against busybox httpd in the sandbox: %v\nlog: %s",
				check(spec.Healthcheck{Kind: spec.HealthTCP, TCPPort: 18080}), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := check(spec.Healthcheck{Kind: spec.HealthTCP, TCPPort: 18081}); err == nil {
		t.Error("TCP check on a closed port succeeded")
	}
	if err := check(spec.Healthcheck{Kind: spec.HealthHTTP, HTTPURL: "http://127.0.0.1:18080/hostname"}); err != nil {
		t.Errorf("HTTP check of an existing file: %v", err)
	}
	err = check(spec.Healthcheck{Kind: spec.HealthHTTP, HTTPURL: "http://127.0.0.1:18080/does-not-exist"})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("HTTP check of a missing file = %v, want a 404 error", err)
	}
	// The port exists only in the sandbox: from the host it is closed.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:18080", time.Second); err == nil {
		c.Close()
		t.Error("the sandbox's port answers on the host's loopback: the check did not run in the sandbox")
	}
	// Exec checks run inside the sandbox through the runtime's Exec.
	if err := check(spec.Healthcheck{Kind: spec.HealthExec, Test: []string{"CMD", "/bin/busybox", "true"}}); err != nil {
		t.Errorf("exec check of true: %v", err)
	}
	if err := check(spec.Healthcheck{Kind: spec.HealthExec, Test: []string{"CMD-SHELL", "exit 3"}}); err == nil || !strings.Contains(err.Error(), "code 3") {
		t.Errorf("exec check exiting 3 = %v, want an error naming code 3", err)
	}

}
