package spec

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Raw returns the project files merged as Load merges them (several -f
// files, the override file, anchors, merge keys, !reset and !override)
// but neither interpolated nor normalised: `nucleus config
// --no-interpolate`, which shows where ${VARIABLES} stand. Scalars keep
// their text, not their YAML type.
func Raw(opts LoadOptions) (*yaml.Node, error) {
	wd := opts.WorkingDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("get working directory: %w", err)
		}
	}
	files, _, err := projectFiles(opts.Files, wd)
	if err != nil {
		return nil, err
	}
	var e errs
	var root *node
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			e.add(Pos{File: f, order: i}, "", "cannot read project file: "+errText(err))
			continue
		}
		if t := parseFile(source{path: filepath.Clean(f), data: data}, i, nil, &e); t != nil {
			root = merge(root, t)
		}
	}
	if len(e.list) > 0 {
		return nil, e.list.sort()
	}
	return rawNode(root), nil
}

func rawNode(n *node) *yaml.Node {
	switch {
	case n == nil || n.kind == kindNull:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case n.kind == kindMap:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i, k := range n.keys {
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k.value}, rawNode(n.vals[i]))
		}
		return m
	case n.kind == kindSeq:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, it := range n.items {
			s.Content = append(s.Content, rawNode(it))
		}
		return s
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Value: n.value}
}
