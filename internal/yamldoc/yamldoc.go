// Package yamldoc reads a project's YAML files again as yaml.v3 nodes, for
// the callers that say where a key was written (compose's notes, the
// Kubernetes export's warnings): the models they work from keep no
// positions.
package yamldoc

import (
	"os"

	"gopkg.in/yaml.v3"
)

// File is one parsed file: its name and its top-level node.
type File struct {
	Name string
	Root *yaml.Node
}

// Parse parses files in order, taking their bytes from sources (what the
// load read) or else from disk; a file that cannot be read or parsed, or is
// empty, is left out: positions are best effort.
func Parse(files []string, sources map[string][]byte) []File {
	var out []File
	for _, f := range files {
		data, ok := sources[f]
		if !ok {
			var err error
			if data, err = os.ReadFile(f); err != nil {
				continue
			}
		}
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
			continue
		}
		out = append(out, File{Name: f, Root: doc.Content[0]})
	}
	return out
}
