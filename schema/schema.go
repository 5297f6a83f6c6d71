// Package schema holds the JSON Schema of the nucleus.yaml input format.
// Editors use nucleus.schema.json directly (see the README); Go code and
// tests use the embedded copy through this package. The tests beside it keep
// the schema in step with the Go types of the spec package.
package schema

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// JSON is the schema document (nucleus.schema.json).
//
//go:embed nucleus.schema.json
var JSON []byte

// url names the schema inside the compiler; nothing is fetched from it.
const url = "file:///nucleus.schema.json"

var compiled struct {
	once sync.Once
	sch  *jsonschema.Schema
	err  error
}

// Compile returns the compiled schema. The result is cached: compiling once
// is enough for any number of validations.
func Compile() (*jsonschema.Schema, error) {
	compiled.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSON))
		if err != nil {
			compiled.err = fmt.Errorf("parse nucleus.schema.json: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(url, doc); err != nil {
			compiled.err = fmt.Errorf("add nucleus.schema.json: %w", err)
			return
		}
		compiled.sch, compiled.err = c.Compile(url)
		if compiled.err != nil {
			compiled.err = fmt.Errorf("compile nucleus.schema.json: %w", compiled.err)
		}
	})
	return compiled.sch, compiled.err
}

// ValidateYAML checks one YAML document against the schema, the way an
// editor would see it (before interpolation). A nil error means valid; a
// *jsonschema.ValidationError lists every violation with its location.
func ValidateYAML(data []byte) error {
	sch, err := Compile()
	if err != nil {
		return err
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("decode YAML: %w", err)
	}
	v, err := FromYAML(doc)
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

// FromYAML converts a value decoded by gopkg.in/yaml.v3 into the JSON data
// model the validator expects: maps with string keys, []any, and scalars.
// YAML timestamps and binary values become strings, which is how nucleus
// reads them where a string is expected.
func FromYAML(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			c, err := FromYAML(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		// yaml.v3 produces this when a key is not a string (e.g. 8080:).
		out := make(map[string]any, len(t))
		for k, e := range t {
			c, err := FromYAML(e)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			c, err := FromYAML(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case time.Time:
		return t.Format(time.RFC3339Nano), nil
	case []byte:
		return string(t), nil
	case nil, bool, string, int, int64, uint64, float64:
		return t, nil
	default:
		return nil, fmt.Errorf("unexpected YAML value of type %T; expected a map, list or scalar", v)
	}
}
