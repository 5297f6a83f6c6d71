package k8s_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	sigyaml "sigs.k8s.io/yaml"

	"nucleus/export/k8s"
	"nucleus/export/k8s/k8stest"
	"nucleus/spec"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml from the current output")

// goldenCase is one project exported with some options; its golden file
// is testdata/NAME.golden.yaml: the YAML, then the warnings as comments.
type goldenCase struct {
	name string
	dir  string // the project directory
	opts k8s.Options
}

var goldenCases = []goldenCase{
	{name: "workloads", dir: "testdata/workloads", opts: k8s.Options{Images: map[string]string{"nosuch": "busybox"}}},
	{name: "networks", dir: "testdata/networks"},
	{name: "egress", dir: "testdata/egress"},
	{name: "ports", dir: "testdata/ports"},
	{name: "ports-loadbalancer", dir: "testdata/ports", opts: k8s.Options{ServiceType: k8s.ServiceLoadBalancer}},
	{name: "ports-clusterip", dir: "testdata/ports", opts: k8s.Options{ServiceType: k8s.ServiceClusterIP}},
	{name: "probes", dir: "testdata/probes"},
	{name: "resources", dir: "testdata/resources"},
	{name: "volumes", dir: "testdata/volumes", opts: k8s.Options{VolumeSize: "5Gi", StorageClass: "standard"}},
	{name: "volumes-secret", dir: "testdata/volumes", opts: k8s.Options{FileBinds: k8s.SourceSecret}},
	{name: "env", dir: "testdata/env"},
	{name: "env-configmap", dir: "testdata/env", opts: k8s.Options{Env: k8s.SourceConfigMap}},
	{name: "env-secret", dir: "testdata/env", opts: k8s.Options{Env: k8s.SourceSecret, Namespace: "prod", HostUsers: true}},
	{name: "secrets", dir: "testdata/secrets"},
	{name: "secrets-data", dir: "testdata/secrets", opts: k8s.Options{SecretData: true}},
	{name: "compose", dir: "testdata/compose"},
	{name: "hostcmd", dir: "testdata/hostcmd"},
	// The repository's examples: those with images, and examples/web with
	// images named for its host-command services.
	{name: "example-image", dir: "../../examples/image"},
	{name: "example-web", dir: "../../examples/web", opts: k8s.Options{Images: map[string]string{
		"db": "busybox:1.36", "web": "busybox:1.36", "worker": "busybox:1.36"}}},
	// The project the cluster tests apply (test/k8s).
	{name: "fixture-web", dir: "../../test/k8s/fixtures/web"},
}

func load(t *testing.T, dir string) *spec.Project { return k8stest.Load(t, dir) }

// export returns what the golden file holds.
func export(t *testing.T, c goldenCase) (string, *k8s.Result) {
	t.Helper()
	p := load(t, c.dir)
	o := c.opts
	o.BaseDir = p.Dir
	res := k8s.Export(p, o)
	out, err := res.YAML(k8s.Header(p))
	if err != nil {
		t.Fatal(err)
	}
	var w strings.Builder
	w.WriteString("# --- warnings\n")
	for _, x := range res.Warnings {
		kind := "warning"
		if x.Error {
			kind = "error"
		}
		fmt.Fprintf(&w, "# %s: %s\n", kind, x)
	}
	return string(out) + w.String(), res
}

// TestGolden exports every case and compares with its golden file
// (go test ./export/k8s -run TestGolden -update rewrites them); every
// object decodes strictly into its k8s.io/api type, and a second export
// is byte-identical.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			got, _ := export(t, c)
			golden := filepath.Join("testdata", c.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("export differs from %s (-update rewrites it):\n%s", golden, diffLines(string(want), got))
			}
			strictDecode(t, []byte(got))
			if again, _ := export(t, c); again != got {
				t.Errorf("a second export differs:\n%s", diffLines(got, again))
			}
		})
	}
}

// strictDecode decodes every document of a stream into its k8s.io/api
// type, failing on unknown or duplicate fields.
func strictDecode(t *testing.T, stream []byte) {
	t.Helper()
	for i, doc := range bytes.Split(stream, []byte("\n---\n")) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := sigyaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		if head.Kind == "" {
			if i == 0 {
				continue // the header comment
			}
			t.Fatalf("document %d has no kind:\n%s", i, doc)
		}
		obj := newObject(t, head.APIVersion, head.Kind)
		if err := sigyaml.UnmarshalStrict(doc, obj); err != nil {
			t.Errorf("document %d (%s): strict decoding: %v\n%s", i, head.Kind, err, doc)
		}
	}
}

func newObject(t *testing.T, apiVersion, kind string) any {
	t.Helper()
	types := map[string]any{
		"v1/Namespace":                       &corev1.Namespace{},
		"v1/ConfigMap":                       &corev1.ConfigMap{},
		"v1/Secret":                          &corev1.Secret{},
		"v1/PersistentVolumeClaim":           &corev1.PersistentVolumeClaim{},
		"v1/Service":                         &corev1.Service{},
		"apps/v1/Deployment":                 &appsv1.Deployment{},
		"apps/v1/StatefulSet":                &appsv1.StatefulSet{},
		"batch/v1/Job":                       &batchv1.Job{},
		"networking.k8s.io/v1/NetworkPolicy": &networkingv1.NetworkPolicy{},
		"kustomize.config.k8s.io/v1beta1/Kustomization": &kustomization{},
	}
	obj, ok := types[apiVersion+"/"+kind]
	if !ok {
		t.Fatalf("unexpected object %s %s", apiVersion, kind)
	}
	return obj
}

// kustomization is kustomize's file with the fields the export writes (no
// kustomize module is needed for these four).
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
}

// diffLines shows the first lines that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			lo, hi := max(i-3, 0), min(i+6, len(g))
			return fmt.Sprintf("line %d: want %q\ngot:\n%s", i+1, a, strings.Join(g[lo:hi], "\n"))
		}
	}
	return ""
}

// TestKustomizeFiles: the kustomize form has one file per object, each
// with the header, and a kustomization.yaml naming them all in order; all
// decode strictly.
func TestKustomizeFiles(t *testing.T) {
	p := load(t, "../../test/k8s/fixtures/web")
	res := k8s.Export(p, k8s.Options{})
	files, err := res.Files(k8s.Header(p))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(res.Objects)+1 {
		t.Fatalf("%d files for %d objects", len(files), len(res.Objects))
	}
	var names []string
	for n, b := range files {
		names = append(names, n)
		if !bytes.HasPrefix(b, []byte("# Generated by `nucleus export k8s` from project k8s-fixture.")) {
			t.Errorf("%s lacks the header", n)
		}
		strictDecode(t, b)
	}
	slices.Sort(names)
	k := string(files["kustomization.yaml"])
	for _, want := range []string{"namespace: k8s-fixture\n", "  - deployment-web.yaml\n", "  - networkpolicy-client-egress.yaml\n", "  - namespace-k8s-fixture.yaml\n"} {
		if !strings.Contains(k, want) {
			t.Errorf("kustomization.yaml lacks %q:\n%s", want, k)
		}
	}
}
