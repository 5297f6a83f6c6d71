package schema_test

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"nucleus/schema"
	"nucleus/spec"
)

// The schema describes what users write; spec's types are the normalised
// long form every package consumes. This test walks the Go types by their
// yaml tags and the schema side by side, so that a field added on either side
// without the other fails here. Where the two legitimately differ, the
// difference is listed below with its reason. Paths use "*" for a map value
// and "[]" for a list item, e.g. "services.*.ports[].host_ip".

// normalisedOnly: Go fields that users never write, because nucleus
// derives them. The loader accepts the long form `nucleus config` prints,
// except for these, which are filled in from the image store after loading.
var normalisedOnly = map[string]string{
	"services.*.image_digest":  "the manifest digest image: resolved to, filled in from the image store; a file pins a digest in image: REF@sha256:... instead",
	"services.*.exposed_ports": "the image's EXPOSE entries, shown by nucleus config after the image config is merged; informational only",
	"secrets.*.content":        "secrets and configs share spec.FileObject; inline content: is Compose's for configs only, and the loader refuses it under secrets",
}

// inputOnly: schema keys with no Go field at that place, each because the
// loader folds it into other fields.
var inputOnly = map[string]string{
	"services.*.healthcheck.disable":  "disable: true removes the healthcheck (Healthcheck becomes nil), e.g. to switch off one set in another file",
	"services.*.env_file[].path":      "the long form {path, required} of an env_file entry; EnvFile keeps the absolute paths of the files that were read",
	"services.*.env_file[].required":  "required: false skips a missing file; it leaves no trace in EnvFile",
	"services.*.volumes[].tmpfs":      "Compose's tmpfs: {size, mode} of a tmpfs mount, read into the mount's own size, mode and exec",
	"services.*.volumes[].tmpfs.size": "read into the mount's size",
	"services.*.volumes[].tmpfs.mode": "read into the mount's mode",
	"services.*.volumes[].tmpfs.exec": "read into the mount's exec",
	"services.*.tmpfs":                "Docker's --tmpfs list, read into volumes entries of type tmpfs",
}

// sameAs: schema paths that are another spelling of a Go path. The walk
// checks the Go path; the schema path only has to be covered by it.
var sameAs = map[string]string{
	// security.landlock may be the rule list itself instead of {mode, rules}.
	"services.*.security.landlock[]": "services.*.security.landlock.rules[]",
}

func TestSchemaMatchesSpecTypes(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(schema.JSON, &root); err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	w := &walker{t: t, root: root, used: map[string]bool{}, visited: map[string]bool{}}
	w.walk(reflect.TypeOf(spec.Project{}), root, "")

	// Every property anywhere in the schema was matched to a Go field, or
	// is a documented input-only key. This also covers properties below Go
	// types the walk above does not descend into (e.g. []string).
	all := map[string]bool{}
	w.schemaPaths(root, "", all)
	var extra []string
	for p := range all {
		if w.visited[p] {
			continue
		}
		if alias, rest, ok := aliasOf(p); ok && w.visited[alias+rest] {
			w.used[strings.TrimSuffix(p, rest)] = true
			continue
		}
		if _, ok := inputOnly[p]; ok {
			w.used[p] = true
			continue
		}
		extra = append(extra, p)
	}
	sort.Strings(extra)
	for _, p := range extra {
		t.Errorf("%s: schema property has no Go field (add one, or list it in inputOnly with the reason)", p)
	}
	if len(all) < 50 {
		t.Fatalf("found only %d schema properties; the schema walk is broken", len(all))
	}

	// Stale exceptions hide drift too: each must still be needed.
	for _, m := range []map[string]string{normalisedOnly, inputOnly, sameAs} {
		for p := range m {
			if !w.used[p] {
				t.Errorf("exception %q is no longer needed; remove it from the test", p)
			}
		}
	}
}

// aliasOf rewrites a schema path that starts with a sameAs key.
func aliasOf(p string) (alias, rest string, ok bool) {
	for from, to := range sameAs {
		if r, found := strings.CutPrefix(p, from); found {
			return to, r, true
		}
	}
	return "", "", false
}

// schemaPaths collects the path of every property in schema node n, with
// "*" for map values and "[]" for list items, following $refs and every
// alternative (anyOf, oneOf, allOf, if/then/else).
func (w *walker) schemaPaths(n map[string]any, path string, out map[string]bool) {
	n = w.resolve(n)
	if props, ok := n["properties"].(map[string]any); ok {
		for k, v := range props {
			p := join(path, k)
			out[p] = true
			w.schemaPaths(v.(map[string]any), p, out)
		}
	}
	if ap, ok := n["additionalProperties"].(map[string]any); ok {
		w.schemaPaths(ap, join(path, "*"), out)
	}
	if it, ok := n["items"].(map[string]any); ok {
		w.schemaPaths(it, path+"[]", out)
	}
	for _, kw := range []string{"anyOf", "oneOf", "allOf"} {
		alts, _ := n[kw].([]any)
		for _, a := range alts {
			if m, ok := a.(map[string]any); ok {
				w.schemaPaths(m, path, out)
			}
		}
	}
	for _, kw := range []string{"if", "then", "else"} {
		if m, ok := n[kw].(map[string]any); ok {
			w.schemaPaths(m, path, out)
		}
	}
}

type walker struct {
	t       *testing.T
	root    map[string]any
	used    map[string]bool // exceptions that were needed
	visited map[string]bool // schema properties matched to a Go field
}

var textMarshaler = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// walk checks Go type typ against schema node n at path.
func (w *walker) walk(typ reflect.Type, n map[string]any, path string) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Implements(textMarshaler) || reflect.PointerTo(typ).Implements(textMarshaler) {
		return // ByteSize, Duration: scalars with their own syntax
	}
	switch typ.Kind() {
	case reflect.Struct:
		w.walkStruct(typ, n, path)
	case reflect.Map:
		if !isStruct(typ.Elem()) {
			return
		}
		v := w.find(n, func(a map[string]any) bool { _, ok := a["additionalProperties"].(map[string]any); return ok })
		if v == nil {
			w.t.Errorf("%s: Go has a map of %s, the schema has no map form here", path, typ.Elem())
			return
		}
		w.walk(typ.Elem(), w.resolve(v["additionalProperties"].(map[string]any)), join(path, "*"))
	case reflect.Slice:
		if !isStruct(typ.Elem()) {
			return
		}
		w.walk(typ.Elem(), w.items(n, path), path+"[]")
	}
}

func (w *walker) walkStruct(typ reflect.Type, n map[string]any, path string) {
	obj := w.find(n, func(a map[string]any) bool { _, ok := a["properties"].(map[string]any); return ok })
	if obj == nil {
		w.t.Errorf("%s: Go struct %s has no object form in the schema", path, typ)
		return
	}
	props := obj["properties"].(map[string]any)
	if obj["additionalProperties"] != false {
		w.t.Errorf("%s: object without additionalProperties: false; editors would not flag typos here", path)
	}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name := yamlName(f)
		if name == "" || !f.IsExported() {
			continue
		}
		p := join(path, name)
		sub, ok := props[name].(map[string]any)
		if !ok {
			if _, exc := normalisedOnly[p]; exc {
				w.used[p] = true
				continue
			}
			w.t.Errorf("%s: Go field %s.%s has no property in the schema (add it, or list it in normalisedOnly with the reason)", p, typ.Name(), f.Name)
			continue
		}
		w.visited[p] = true
		desc, _ := sub["description"].(string)
		if desc == "" {
			desc, _ = w.resolve(sub)["description"].(string)
		}
		if desc == "" {
			w.t.Errorf("%s: schema property has no description; editors show it as help", p)
		}
		w.walk(f.Type, w.resolve(sub), p)
	}
}

// items returns the item schema of the list form of n.
func (w *walker) items(n map[string]any, path string) map[string]any {
	a := w.find(n, func(a map[string]any) bool { _, ok := a["items"].(map[string]any); return ok })
	if a == nil {
		w.t.Errorf("%s: Go has a list, the schema has no list form here", path)
		return map[string]any{}
	}
	return w.resolve(a["items"].(map[string]any))
}

// find returns the first of n and its anyOf/oneOf/allOf alternatives
// (recursively, $refs resolved) for which ok holds.
func (w *walker) find(n map[string]any, ok func(map[string]any) bool) map[string]any {
	n = w.resolve(n)
	if ok(n) {
		return n
	}
	for _, kw := range []string{"anyOf", "oneOf", "allOf"} {
		alts, _ := n[kw].([]any)
		for _, a := range alts {
			if m, isMap := a.(map[string]any); isMap {
				if r := w.find(m, ok); r != nil {
					return r
				}
			}
		}
	}
	return nil
}

// resolve follows local "#/$defs/NAME" references.
func (w *walker) resolve(n map[string]any) map[string]any {
	for {
		ref, ok := n["$ref"].(string)
		if !ok {
			return n
		}
		name, found := strings.CutPrefix(ref, "#/$defs/")
		defs, _ := w.root["$defs"].(map[string]any)
		def, isMap := defs[name].(map[string]any)
		if !found || !isMap {
			w.t.Fatalf("unresolvable $ref %q", ref)
		}
		n = def
	}
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

func isStruct(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && !t.Implements(textMarshaler) && !reflect.PointerTo(t).Implements(textMarshaler)
}
