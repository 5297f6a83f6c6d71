package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"nucleus/loader"
	"nucleus/spec"
)

// errRawCompose: compose files are read by compose-go, which interpolates
// while it loads, so there is no uninterpolated model of them to print.
var errRawCompose = errors.New("config --no-interpolate reads nucleus.yaml files; a compose file is interpolated by the compose reader as it is mapped (print it as it is with cat, or see the mapping with nucleus convert)")

// printRaw prints the project files merged but not interpolated (config
// --no-interpolate), as YAML or JSON.
func printRaw(out io.Writer, format string) error {
	o := loadOptions()
	wd, _ := os.Getwd()
	for _, f := range o.Files {
		if f == "-" || loader.IsCompose(f, nil, wd) {
			return &exitError{code: 2, err: errRawCompose}
		}
	}
	n, err := spec.Raw(o)
	if errors.Is(err, spec.ErrNoProject) {
		return &exitError{code: 2, err: fmt.Errorf("%w (%v)", errRawCompose, err)}
	}
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if format == "json" {
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("encode project: %w", err)
		}
		return printJSON(out, jsonSafe(v))
	}
	enc := yaml.NewEncoder(out)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return fmt.Errorf("encode project: %w", err)
	}
	return enc.Close()
}

// jsonSafe turns the map[string]any that yaml decodes into values
// encoding/json takes (yaml may give map[any]any for odd keys).
func jsonSafe(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonSafe(e)
		}
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonSafe(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonSafe(e)
		}
	}
	return v
}
