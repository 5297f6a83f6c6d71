//go:build k8s

package apiserver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kubeconform reads JSON schemas per kind, which it would download; there
// is no network here, so the test writes them from the OpenAPI v2 document
// of the very apiserver it started, the way openapi2jsonschema makes
// kubeconform's own "standalone-strict" set: every object closed
// (additionalProperties false unless the API keeps unknown fields),
// int-or-string and quantities accepting both forms, null allowed.

// schemaFile is kubeconform's file name for a kind: lower-case kind, the
// group's first label and the version (its registry.schemaPath).
func schemaFile(apiVersion, kind string) string {
	group, version, ok := strings.Cut(apiVersion, "/")
	suffix := "-" + strings.ToLower(strings.Split(group, ".")[0])
	if ok {
		suffix += "-" + strings.ToLower(version)
	}
	return strings.ToLower(kind) + suffix + ".json"
}

// writeSchemas writes into dir the schema of each apiVersion/kind in want
// that the document defines, and returns the ones it does not define.
func writeSchemas(t *testing.T, openapi []byte, dir string, want map[[2]string]bool) (missing [][2]string) {
	t.Helper()
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(openapi, &doc); err != nil {
		t.Fatalf("apiserver's /openapi/v2: %v", err)
	}
	byGVK := map[[2]string]string{}
	for name, def := range doc.Definitions {
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			m, _ := g.(map[string]any)
			group, _ := m["group"].(string)
			version, _ := m["version"].(string)
			kind, _ := m["kind"].(string)
			apiVersion := version
			if group != "" {
				apiVersion = group + "/" + version
			}
			byGVK[[2]string{apiVersion, kind}] = name
		}
	}
	for gvk := range want {
		name, ok := byGVK[gvk]
		if !ok {
			missing = append(missing, gvk)
			continue
		}
		defs := map[string]any{}
		closure(doc.Definitions, name, defs)
		root := strictSchema(name, doc.Definitions[name]).(map[string]any)
		root["definitions"] = defs
		b, err := json.Marshal(root)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, schemaFile(gvk[0], gvk[1])), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return missing
}

// closure adds name and every definition it refers to, converted, to out.
func closure(all map[string]map[string]any, name string, out map[string]any) {
	if _, done := out[name]; done {
		return
	}
	out[name] = strictSchema(name, all[name])
	for _, ref := range refs(all[name], nil) {
		closure(all, ref, out)
	}
}

// refs lists the definitions node refers to ("#/definitions/NAME").
func refs(node any, acc []string) []string {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if s, ok := v.(string); ok && k == "$ref" {
				acc = append(acc, strings.TrimPrefix(s, "#/definitions/"))
			} else {
				acc = refs(v, acc)
			}
		}
	case []any:
		for _, v := range n {
			acc = refs(v, acc)
		}
	}
	return acc
}

const (
	quantityDef    = "io.k8s.apimachinery.pkg.api.resource.Quantity"
	intOrStringFmt = "int-or-string"
)

// strictSchema converts one schema node (name is its definition's, or "").
func strictSchema(name string, node any) any {
	n, ok := node.(map[string]any)
	if !ok {
		return node
	}
	// "cpu: 0.25" and "port: 8080" are as valid as their string forms.
	if name == quantityDef {
		return map[string]any{"oneOf": []any{
			map[string]any{"type": []any{"string", "null"}}, map[string]any{"type": "number"}}}
	}
	if n["format"] == intOrStringFmt {
		return map[string]any{"oneOf": []any{
			map[string]any{"type": []any{"string", "null"}}, map[string]any{"type": "integer"}}}
	}
	out := map[string]any{}
	for k, v := range n {
		switch k {
		case "properties":
			props := map[string]any{}
			for p, s := range v.(map[string]any) {
				props[p] = strictSchema("", s)
			}
			out[k] = props
		case "items", "additionalProperties":
			out[k] = strictSchema("", v)
		case "allOf", "anyOf", "oneOf":
			var l []any
			for _, s := range v.([]any) {
				l = append(l, strictSchema("", s))
			}
			out[k] = l
		case "type":
			out[k] = []any{v, "null"}
		default:
			out[k] = v
		}
	}
	_, open := n["additionalProperties"]
	keep, _ := n["x-kubernetes-preserve-unknown-fields"].(bool)
	if _, hasProps := n["properties"]; hasProps && !open && !keep {
		out["additionalProperties"] = false
	}
	return out
}
