package schema_test

import (
	"encoding/json"
	"sort"
	"testing"

	"nucleus/schema"
)

// Most editors validate YAML with draft-07 semantics (yaml-language-server,
// hence VS Code, Neovim, Helix). The schema is 2020-12 but sticks to
// keywords those tools also understand, so editors show the same errors as
// the tests here; prefixItems (the first word of a healthcheck test) is the
// one 2020-12 keyword they skip, which only makes them more lenient. The
// README says so; this test keeps it true.
var editorKeywords = map[string]bool{
	"$schema": true, "title": true, "description": true, "default": true,
	"$defs": true, "$ref": true, "type": true, "enum": true, "const": true,
	"properties": true, "patternProperties": true, "additionalProperties": true,
	"propertyNames": true, "required": true, "items": true, "minItems": true,
	"uniqueItems": true, "pattern": true, "minLength": true, "maxLength": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "not": true,
	"anyOf": true, "oneOf": true, "allOf": true, "if": true, "then": true, "else": true,
	"prefixItems": true, // skipped by draft-07 tools: they accept more, never less
}

func TestSchemaUsesEditorFriendlyKeywords(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(schema.JSON, &root); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	var walk func(n any, inNames bool)
	walk = func(n any, inNames bool) {
		switch v := n.(type) {
		case map[string]any:
			for k, e := range v {
				if !inNames {
					used[k] = true
				}
				// Keys of these are names (of properties, patterns or
				// definitions), not keywords.
				names := !inNames && (k == "properties" || k == "patternProperties" || k == "$defs")
				walk(e, names)
			}
		case []any:
			for _, e := range v {
				walk(e, false)
			}
		}
	}
	walk(root, false)
	var bad []string
	for k := range used {
		if !editorKeywords[k] {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("schema uses keywords editors may not understand: %v (update editorKeywords and the README if they are safe)", bad)
	}
	if !used["additionalProperties"] || !used["description"] {
		t.Fatal("keyword walk found nothing; it is broken")
	}
}
