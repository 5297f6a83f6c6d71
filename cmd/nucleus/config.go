package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"nucleus/spec"
)

func init() { register("config", newConfigCmd) }

func newConfigCmd() *cobra.Command {
	var format, hash string
	var services, images, profiles, noInterpolate bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the normalised project",
		Long: "Print the project after interpolation, merging and normalisation: every short form in its\n" +
			"long form, defaults filled in, keys sorted. --services lists the service names; --hash prints\n" +
			"\"SERVICE HASH\" lines (the hash changes exactly when the service must be restarted or updated);\n" +
			"--images lists the services' images; --profiles the profiles the services declare.\n" +
			"--no-interpolate prints the files merged (-f files, override file, anchors, !reset) with\n" +
			"${VARIABLES} as written: not interpolated, so not normalised either.",
		Example: "  nucleus config\n  nucleus config --format json\n  nucleus config --hash '*'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "yaml" && format != "json" {
				return &exitError{code: 2, err: fmt.Errorf("--format: unknown format %q; expected yaml or json", format)}
			}
			if noInterpolate {
				return printRaw(cmd.OutOrStdout(), format)
			}
			if profiles {
				// Every profile the files declare, active or not.
				p, err := everyProfileProject()
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				for _, pr := range profileNames(p) {
					fmt.Fprintln(cmd.OutOrStdout(), pr)
				}
				return nil
			}
			p, err := loadProject()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case images:
				// One line per service that names an image, as compose config --images.
				for _, name := range serviceNames(p) {
					if img := p.Services[name].Image; img != "" {
						fmt.Fprintln(out, img)
					}
				}
				return nil
			case services:
				for _, name := range serviceNames(p) {
					fmt.Fprintln(out, name)
				}
				return nil
			case hash != "":
				return printHashes(out, p, hash)
			}
			return printProject(out, p, format)
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "yaml", "output format: yaml or json")
	f.BoolVar(&services, "services", false, "print the service names, one per line")
	f.BoolVar(&noInterpolate, "no-interpolate", false, "print the files merged but with ${VARIABLES} as written, not normalised (nucleus.yaml files)")
	f.BoolVar(&profiles, "profiles", false, "print the profiles the services declare (active or not), one per line")
	f.BoolVar(&images, "images", false, "print the image of each service that has one, one per line (sorted by service)")
	f.StringVar(&hash, "hash", "", "print \"SERVICE HASH\" for the named services (comma-separated, or '*' for all)")
	return cmd
}

func serviceNames(p *spec.Project) []string {
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func printHashes(out io.Writer, p *spec.Project, which string) error {
	names := serviceNames(p)
	if which != "*" {
		names = strings.Split(which, ",")
		for _, n := range names {
			if _, ok := p.Services[n]; !ok {
				return &exitError{code: 1, err: fmt.Errorf("--hash: no service %q in project %s", n, p.Name)}
			}
		}
	}
	for _, n := range names {
		fmt.Fprintf(out, "%s %s\n", n, spec.ServiceHash(p.Services[n]))
	}
	return nil
}

// printProject prints the project with every mapping's keys sorted, so the
// output is stable and diffable.
func printProject(out io.Writer, p *spec.Project, format string) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode project: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("decode project: %w", err)
	}
	if format == "json" {
		if err := printJSON(out, v); err != nil { // maps marshal with sorted keys
			return fmt.Errorf("encode project: %w", err)
		}
		return nil
	}
	enc := yaml.NewEncoder(out)
	enc.SetIndent(2)
	if err := enc.Encode(yamlNode(v)); err != nil {
		return fmt.Errorf("encode project: %w", err)
	}
	return enc.Close()
}

// yamlNode converts a decoded JSON value into a YAML node with sorted keys;
// strings keep the !!str tag so values like "no" or "8080" stay strings.
func yamlNode(v any) *yaml.Node {
	switch x := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, yamlNode(x[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, it := range x {
			n.Content = append(n.Content, yamlNode(it))
		}
		return n
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(x.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: x.String()}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(x)}
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v)}
	if yaml11Bool[strings.ToLower(n.Value)] {
		n.Style = yaml.DoubleQuotedStyle // "no" stays a string for YAML 1.1 readers too
	}
	return n
}

var yaml11Bool = map[string]bool{"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true, "true": true, "false": true}
