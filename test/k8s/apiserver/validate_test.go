//go:build k8s

// Package apiserver checks the manifests of `nucleus export k8s` against a
// real kube-apiserver and etcd started by the test: `kubectl apply
// --dry-run=server --validate=strict` catches what decoding into the API
// types cannot (a /33 CIDR, probe port 0, a field the API does not have),
// and kubeconform -strict checks the same output against the schemas of the
// same release. Run by `make test-k8s` (build tag k8s).
package apiserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"nucleus/export/k8s/k8stest"
	"nucleus/internal/testutil"
)

// brokenCases each change one line of testdata/valid.yaml; the apiserver
// must refuse the result with a message naming the field.
var brokenCases = []struct {
	name, old, new, want string
	// kubeconform also sees it: a field the schema lacks (a CIDR or a port
	// value is only checked by the apiserver).
	kubeconform bool
}{
	{"cidr /33", "cidr: 192.0.2.0/24", "cidr: 192.0.2.0/33", "spec.egress[0].to[0].ipBlock.cidr: Invalid value", false},
	{"probe port 0", "httpGet: {path: /, port: 8080}", "httpGet: {path: /, port: 0}", "readinessProbe.httpGet.port: Invalid value", false},
	{"unknown field", "replicas: 2", "replica: 2", `unknown field "spec.replica"`, true},
}

func TestServerSideValidation(t *testing.T) {
	manifests := map[string]string{"testdata/valid.yaml": readFile(t, "testdata/valid.yaml")}
	for _, f := range exportedProjects(t) {
		// Named from the repository's root in messages.
		name := strings.TrimPrefix(strings.Replace(f, "../fixtures/", "test/k8s/fixtures/", 1), "../../../")
		manifests[name] = export(t, f)
	}
	// Every mapping row the export's golden files cover (go test
	// ./export/k8s keeps them equal to the export), flags included.
	goldens, _ := filepath.Glob("../../../export/k8s/testdata/*.golden.yaml")
	if len(goldens) == 0 {
		t.Fatal("no export/k8s/testdata/*.golden.yaml")
	}
	for _, g := range goldens {
		manifests[strings.TrimPrefix(g, "../../../")] = readFile(t, g)
	}
	cp := startControlPlane(t)
	kc := newKubeconform(t, cp, manifests)

	// build-tools.sh stamps the release into both; without it kubectl
	// sees v0.0.0-master and cannot compare versions.
	v := cp.kubectl(t, "", "version")
	for _, want := range []string{"Client Version: " + k8stest.Version, "Server Version: " + k8stest.Version} {
		if !strings.Contains(v, want) {
			t.Errorf("kubectl version must say %q:\n%s", want, v)
		}
	}

	names := make([]string, 0, len(manifests))
	for n := range manifests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			m := manifests[name]
			cp.createNamespaces(t, m)
			out := cp.kubectl(t, m, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
			n := len(objects(t, m))
			if got := strings.Count(out, "(server dry run)"); got != n {
				t.Errorf("the apiserver accepted %d objects of %d:\n%s", got, n, out)
			}
			// A kind without a schema would be skipped, not checked.
			if out, err := kc.run(m); err != nil || !strings.Contains(out, fmt.Sprintf("Valid: %d, Invalid: 0, Errors: 0, Skipped: 0", n)) {
				t.Errorf("kubeconform -strict must find all %d objects valid: %v\n%s", n, err, out)
			}
		})
	}

	valid := manifests["testdata/valid.yaml"]
	for _, c := range brokenCases {
		t.Run("broken/"+c.name, func(t *testing.T) {
			if strings.Count(valid, c.old) != 1 {
				t.Fatalf("testdata/valid.yaml must hold %q once", c.old)
			}
			m := strings.Replace(valid, c.old, c.new, 1)
			out, err := cp.try(m, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
			if err == nil || !strings.Contains(out, c.want) {
				t.Errorf("the apiserver must refuse %s with %q; kubectl: %v\n%s", c.new, c.want, err, out)
			}
			out, err = kc.run(m)
			if c.kubeconform && err == nil {
				t.Errorf("kubeconform -strict must refuse %s:\n%s", c.new, out)
			}
		})
	}
}

// exportedProjects lists the projects whose export is checked: the
// fixtures under test/k8s/fixtures and the examples that run images (a
// service without image: has no Kubernetes form).
func exportedProjects(t *testing.T) []string {
	t.Helper()
	fixtures, _ := filepath.Glob("../fixtures/*/nucleus.yaml")
	examples, _ := filepath.Glob("../../../examples/*/nucleus.yaml")
	files := fixtures
	for _, f := range examples {
		if allImages(t, f) {
			files = append(files, f)
		}
	}
	return files
}

// allImages reports whether every service of the project file has an image.
func allImages(t *testing.T, file string) bool {
	var p struct {
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, file)), &p); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, s := range p.Services {
		if s.Image == "" {
			return false
		}
	}
	return len(p.Services) > 0
}

// export runs `nucleus export k8s` on a project file, in its directory.
func export(t *testing.T, file string) string {
	t.Helper()
	bin := os.Getenv("NUCLEUS_BIN")
	if bin == "" {
		bin = "../../../bin/nucleus"
	}
	bin, _ = filepath.Abs(bin)
	testutil.Require(t, testutil.FileExists(bin), "nucleus built at "+bin+" (make build)")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "export", "k8s", "-f", filepath.Base(file), "-o", "-")
	cmd.Dir = filepath.Dir(file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("nucleus export k8s -f %s: %v\n%s", file, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("nucleus export k8s -f %s warns:\n%s", file, stderr.String())
	}
	return stdout.String()
}

// objects decodes the documents of a multi-document manifest.
func objects(t *testing.T, manifest string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	dec := yaml.NewDecoder(strings.NewReader(manifest))
	for {
		var o map[string]any
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("manifest: %v", err)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
}

// createNamespaces makes the namespaces a manifest's objects live in, for
// real: a server-side dry run does not create the Namespace it declares.
func (cp *controlPlane) createNamespaces(t *testing.T, manifest string) {
	t.Helper()
	ns := map[string]bool{}
	for _, o := range objects(t, manifest) {
		meta, _ := o["metadata"].(map[string]any)
		if n, _ := meta["namespace"].(string); n != "" {
			ns[n] = true
		}
		if n, _ := meta["name"].(string); o["kind"] == "Namespace" {
			ns[n] = true
		}
	}
	for n := range ns {
		cp.kubectl(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %q}\n", n), "apply", "-f", "-")
	}
}

// kubeconform runs kubeconform -strict with the schemas of this apiserver.
type kubeconform struct {
	bin, schemas string
}

func newKubeconform(t *testing.T, cp *controlPlane, manifests map[string]string) kubeconform {
	t.Helper()
	want := map[[2]string]bool{}
	for _, m := range manifests {
		for _, o := range objects(t, m) {
			apiVersion, _ := o["apiVersion"].(string)
			kind, _ := o["kind"].(string)
			want[[2]string{apiVersion, kind}] = true
		}
	}
	dir := t.TempDir()
	if missing := writeSchemas(t, cp.get(t, "/openapi/v2"), dir, want); len(missing) > 0 {
		t.Fatalf("the apiserver serves no schema for %v", missing)
	}
	return kubeconform{bin: filepath.Join(cp.bin, "kubeconform"), schemas: dir}
}

func (k kubeconform) run(manifest string) (string, error) {
	cmd := exec.Command(k.bin, "-strict", "-summary",
		"-schema-location", k.schemas+"/{{ .ResourceKind }}{{ .KindSuffix }}.json", "-")
	cmd.Stdin = strings.NewReader(manifest)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
