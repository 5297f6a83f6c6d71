//go:build k8s

package apiserver

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/export/k8s/k8stest"
	"nucleus/internal/testutil"
)

// controlPlane is an etcd and a kube-apiserver on 127.0.0.1, each on a
// random port with its data in one temporary directory, and a kubeconfig
// that reaches the apiserver as a member of system:masters.
type controlPlane struct {
	bin        string
	dir        string
	kubeconfig string
	url        string
	token      string
	procs      []*exec.Cmd
	done       []chan struct{}
}

// startControlPlane starts etcd and kube-apiserver and waits until the
// apiserver's /readyz answers ok. Cleanup stops both and fails the test if
// a process or the directory is left.
func startControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	cp := &controlPlane{bin: k8stest.ToolsDir(t), token: testutil.RandHex(16)}
	dir, err := os.MkdirTemp("", "nucleus-k8s-apiserver-")
	if err != nil {
		t.Fatal(err)
	}
	cp.dir = dir
	t.Cleanup(func() { cp.stop(t) })

	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t))
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t))
	cp.start(t, "etcd",
		"--name=test", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdClient, "--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer, "--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=test="+etcdPeer,
		// A throwaway store: fsync only slows the test down.
		"--unsafe-no-fsync")

	saKey := filepath.Join(dir, "sa.key")
	writeRSAKey(t, saKey)
	tokens := filepath.Join(dir, "tokens.csv")
	testutil.WriteFile(t, tokens, cp.token+`,nucleus-test,nucleus-test,"system:masters"`+"\n")
	port := testutil.FreePort(t)
	cp.url = fmt.Sprintf("https://127.0.0.1:%d", port)
	cp.start(t, "kube-apiserver",
		"--etcd-servers="+etcdClient,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		// The apiserver makes its own self-signed serving certificate.
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+saKey,
		"--service-account-signing-key-file="+saKey,
		// Never routed: Services need a range to allocate cluster IPs from.
		"--service-cluster-ip-range=10.96.0.0/16",
		// The endpoint reconciler refuses a loopback address to publish as
		// the kubernetes Service's endpoint; nothing here needs that one.
		"--endpoint-reconciler-type=none")

	cp.kubeconfig = filepath.Join(dir, "kubeconfig")
	testutil.WriteFile(t, cp.kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: test
  user: {token: %q}
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
`, cp.url, cp.token))

	start := time.Now()
	testutil.WaitFor(t, "kube-apiserver /readyz", 90*time.Second, func() bool {
		if name := cp.exited(); name != "" {
			t.Fatalf("%s exited while the control plane started (its log follows)", name)
		}
		return cp.ready()
	})
	t.Logf("etcd and kube-apiserver ready in %s", time.Since(start).Round(100*time.Millisecond))
	return cp
}

// start runs one binary of the tools with its output in DIR/NAME.log, in a
// process group of its own that dies with the test.
func (cp *controlPlane) start(t *testing.T, name string, args ...string) {
	t.Helper()
	log, err := os.Create(filepath.Join(cp.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(filepath.Join(cp.bin, name), args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	cp.procs, cp.done = append(cp.procs, cmd), append(cp.done, done)
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
}

// exited names a process that has exited, or is "".
func (cp *controlPlane) exited() string {
	for i, d := range cp.done {
		select {
		case <-d:
			return filepath.Base(cp.procs[i].Path)
		default:
		}
	}
	return ""
}

func (cp *controlPlane) ready() bool {
	req, _ := http.NewRequest("GET", cp.url+"/readyz", nil)
	req.Header.Set("Authorization", "Bearer "+cp.token)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// get fetches path from the apiserver.
func (cp *controlPlane) get(t *testing.T, path string) []byte {
	t.Helper()
	return []byte(cp.kubectl(t, "", "get", "--raw", path))
}

// kubectl runs kubectl against the control plane with stdin; a failure
// fails the test with kubectl's output.
func (cp *controlPlane) kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := cp.try(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// try runs kubectl and returns its combined output and error.
func (cp *controlPlane) try(stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(cp.bin, "kubectl"), append([]string{"--kubeconfig=" + cp.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// stop ends both processes (TERM, then KILL after 10 s) and removes the
// directory; a process or file left fails the test.
func (cp *controlPlane) stop(t *testing.T) {
	for i := len(cp.procs) - 1; i >= 0; i-- {
		p := cp.procs[i].Process
		_ = syscall.Kill(-p.Pid, syscall.SIGTERM)
		select {
		case <-cp.done[i]:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
			<-cp.done[i]
		}
	}
	if t.Failed() {
		for _, name := range []string{"etcd", "kube-apiserver"} {
			if b, err := os.ReadFile(filepath.Join(cp.dir, name+".log")); err == nil {
				t.Logf("%s.log (last 3000 bytes):\n%s", name, tail(b, 3000))
			}
		}
	}
	testutil.WaitFor(t, "etcd and kube-apiserver to exit", 10*time.Second, func() bool {
		return len(testutil.ProcsWithArg("--data-dir="+filepath.Join(cp.dir, "etcd"))) == 0 &&
			len(testutil.ProcsWithArg("--cert-dir="+filepath.Join(cp.dir, "certs"))) == 0
	})
	if err := os.RemoveAll(cp.dir); err != nil {
		t.Errorf("remove %s: %v", cp.dir, err)
	}
	if testutil.FileExists(cp.dir) {
		t.Errorf("%s left after the test", cp.dir)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// writeRSAKey writes a fresh RSA key in PEM: the apiserver signs and checks
// service account tokens with it.
func writeRSAKey(t *testing.T, path string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
