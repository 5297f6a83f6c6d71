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

// normalisedOnly: Go fields that users never write, because the loader
// derives them from other input.
var normalisedOnly = map[string]string{
	"services.*.healthcheck.kind": "derived from which one of test, tcp and http is set",
}

// inputOnly: schema keys with no Go field of the same name. None today: every
// key a user writes survives normalisation under its own name.
var inputOnly = map[string]string{}

// shortOnly: Go structs that users write only as a string (or list of
// strings); the loader parses the string into the struct.
var shortOnly = map[string]string{
	"services.*.restart":        `written as "no", "always", "on-failure[:MAX]" or "unless-stopped"; parsed into {policy, max_retries}`,
	"services.*.extra_hosts[]":  `written as "HOST:IP"; parsed into {host, ip}`,
	"services.*.egress.allow[]": `written as "CIDR|ADDRESS|DOMAIN[:PORT[-END]][/PROTO]"; parsed into {cidr|domain, port_start, port_end, protocol}`,
	"services.*.volumes[]":      `written as "[SOURCE:]TARGET[:ro|rw]"; parsed into {type, source, target, read_only, size} (size comes from the named tmpfs volume)`,
}

// inlined: Go structs whose input is either a mode string or, instead of the
// struct, the value of one of its fields directly. The walk continues from
// that field at the same place in the schema.
var inlined = map[string]struct{ field, why string }{
	"services.*.security.landlock": {"rules", `written as "default", "off" or the list of rules itself; normalised to {mode, rules} with mode "custom" for a list`},
}

func TestSchemaMatchesSpecTypes(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(schema.JSON, &root); err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	w := &walker{t: t, root: root, used: map[string]bool{}}
	w.walk(reflect.TypeOf(spec.Project{}), root, "")

	// Stale exceptions hide drift too: each must still be needed.
	for _, m := range []map[string]string{normalisedOnly, inputOnly, shortOnly} {
		for p := range m {
			if !w.used[p] {
				t.Errorf("exception %q is no longer needed; remove it from the test", p)
			}
		}
	}
	for p := range inlined {
		if !w.used[p] {
			t.Errorf("exception %q is no longer needed; remove it from the test", p)
		}
	}
}

type walker struct {
	t    *testing.T
	root map[string]any
	used map[string]bool
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
		if why, ok := shortOnly[path+"[]"]; ok {
			w.used[path+"[]"] = true
			w.requireString(w.items(n, path), path+"[]", why)
			return
		}
		w.walk(typ.Elem(), w.items(n, path), path+"[]")
	}
}

func (w *walker) walkStruct(typ reflect.Type, n map[string]any, path string) {
	if why, ok := shortOnly[path]; ok {
		w.used[path] = true
		w.requireString(n, path, why)
		return
	}
	if in, ok := inlined[path]; ok {
		w.used[path] = true
		f, found := typ.FieldByNameFunc(func(name string) bool {
			sf, _ := typ.FieldByName(name)
			return yamlName(sf) == in.field
		})
		if !found {
			w.t.Errorf("%s: Go type %s has no field with yaml name %q (%s)", path, typ, in.field, in.why)
			return
		}
		w.walk(f.Type, n, path)
		return
	}
	obj := w.find(n, func(a map[string]any) bool { _, ok := a["properties"].(map[string]any); return ok })
	if obj == nil {
		w.t.Errorf("%s: Go struct %s has no object form in the schema", path, typ)
		return
	}
	props := obj["properties"].(map[string]any)
	if obj["additionalProperties"] != false {
		w.t.Errorf("%s: object without additionalProperties: false; editors would not flag typos here", path)
	}
	goKeys := map[string]bool{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name := yamlName(f)
		if name == "" || !f.IsExported() {
			continue
		}
		goKeys[name] = true
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
		desc, _ := sub["description"].(string)
		if desc == "" {
			desc, _ = w.resolve(sub)["description"].(string)
		}
		if desc == "" {
			w.t.Errorf("%s: schema property has no description; editors show it as help", p)
		}
		w.walk(f.Type, w.resolve(sub), p)
	}
	var extra []string
	for k := range props {
		if goKeys[k] {
			continue
		}
		p := join(path, k)
		if _, exc := inputOnly[p]; exc {
			w.used[p] = true
			continue
		}
		extra = append(extra, p)
	}
	sort.Strings(extra)
	for _, p := range extra {
		w.t.Errorf("%s: schema property has no Go field in %s (add one, or list it in inputOnly with the reason)", p, typ)
	}
}

// requireString checks that a short-only struct is written as a string.
func (w *walker) requireString(n map[string]any, path, why string) {
	if w.find(n, func(a map[string]any) bool { return a["type"] == "string" || a["enum"] != nil }) == nil {
		w.t.Errorf("%s: listed as short-only (%s) but the schema has no string form", path, why)
	}
	if w.find(n, func(a map[string]any) bool { _, ok := a["properties"]; return ok }) != nil {
		w.t.Errorf("%s: listed as short-only but the schema now has an object form; remove the exception", path)
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
