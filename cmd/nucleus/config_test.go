package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"nucleus/spec"
)

func TestConfigYAMLIsNormalisedSortedAndStable(t *testing.T) {
	dir := writeProject(t, map[string]string{"nucleus.yaml": shopYAML})
	out, errText, code := runCLI(t, dir, "config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errText)
	}
	again, _, _ := runCLI(t, dir, "config", "--format", "yaml")
	if out != again {
		t.Error("two runs print different output")
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, out)
	}
	web := doc["services"].(map[string]any)["web"].(map[string]any)
	if got := web["command"]; fmt.Sprint(got) != "[serve --port 8080]" {
		t.Errorf("command = %v", got)
	}
	if got := web["restart"].(map[string]any)["policy"]; got != "no" {
		t.Errorf("restart.policy = %#v, want the string no", got)
	}
	if !strings.Contains(out, `policy: "no"`) {
		t.Errorf("no must be quoted for YAML 1.1 readers:\n%s", out)
	}
	// Keys are sorted at every level.
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(out), &node); err != nil {
		t.Fatal(err)
	}
	checkSorted(t, node.Content[0], "")
	// The printed form is itself a valid project with the same hashes.
	dir2 := writeProject(t, map[string]string{"nucleus.yaml": out})
	h1, _, _ := runCLI(t, dir, "config", "--hash", "*")
	h2, errText, code := runCLI(t, dir2, "config", "--hash", "*")
	if code != 0 || h1 != h2 {
		t.Errorf("printed project loads to different hashes (exit %d %s):\n%s\n%s", code, errText, h1, h2)
	}
}

func checkSorted(t *testing.T, n *yaml.Node, path string) {
	t.Helper()
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i >= 2 && n.Content[i-2].Value >= n.Content[i].Value {
				t.Errorf("%s: key %q after %q", path, n.Content[i].Value, n.Content[i-2].Value)
			}
			checkSorted(t, n.Content[i+1], path+"."+n.Content[i].Value)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			checkSorted(t, c, path+"[]")
		}
	}
}

func TestConfigJSON(t *testing.T) {
	dir := writeProject(t, map[string]string{"nucleus.yaml": shopYAML})
	out, errText, code := runCLI(t, dir, "config", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errText)
	}
	var doc struct {
		Name     string
		Services map[string]struct {
			Ports []spec.Port
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if doc.Name != "shop" || len(doc.Services) != 3 || doc.Services["web"].Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("decoded %+v", doc)
	}
	if _, errText, code := runCLI(t, dir, "config", "--format", "xml"); code != 2 || !strings.Contains(errText, `unknown format "xml"`) {
		t.Errorf("--format xml: exit %d %s", code, errText)
	}
}

func TestConfigServicesAndHash(t *testing.T) {
	dir := writeProject(t, map[string]string{"nucleus.yaml": shopYAML})
	out, _, code := runCLI(t, dir, "config", "--services")
	if code != 0 || out != "db\nweb\nworker\n" {
		t.Errorf("--services: exit %d %q", code, out)
	}
	p, err := spec.Load(spec.LoadOptions{WorkingDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	out, _, code = runCLI(t, dir, "config", "--hash", "*")
	want := fmt.Sprintf("db %s\nweb %s\nworker %s\n", spec.ServiceHash(p.Services["db"]), spec.ServiceHash(p.Services["web"]), spec.ServiceHash(p.Services["worker"]))
	if code != 0 || out != want {
		t.Errorf("--hash '*': exit %d\n%s\nwant\n%s", code, out, want)
	}
	out, _, _ = runCLI(t, dir, "config", "--hash", "worker,db")
	if out != fmt.Sprintf("worker %s\ndb %s\n", spec.ServiceHash(p.Services["worker"]), spec.ServiceHash(p.Services["db"])) {
		t.Errorf("--hash worker,db: %q", out)
	}
	if _, errText, code := runCLI(t, dir, "config", "--hash", "nope"); code != 1 || !strings.Contains(errText, `no service "nope" in project shop`) {
		t.Errorf("--hash nope: exit %d %s", code, errText)
	}
}
