package composeapi

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"nucleus/internal/yamldoc"
)

// Positions finds where a key was written. compose-go's model drops
// positions, so the files are read again as yaml.v3 nodes; the last file
// that has a key wins, as it does in Compose's merge. Keys that came from
// extends or include are not found (best effort): their warnings carry no
// position.
type Positions struct {
	files []posFile
	cwd   string
}

type posFile struct {
	name string
	root *yaml.Node
}

// NewPositions reads files (their content from sources where given).
func NewPositions(files []string, sources map[string][]byte) *Positions {
	ps := &Positions{}
	ps.cwd, _ = os.Getwd()
	for _, f := range yamldoc.Parse(files, sources) {
		ps.files = append(ps.files, posFile{name: f.Name, root: f.Root})
	}
	// Files brought in by include: come first, as Compose merges them
	// under the including file (best effort: local paths only).
	var included []posFile
	for _, pf := range ps.files {
		_, inc := mapGet(pf.root, "include")
		if inc == nil || inc.Kind != yaml.SequenceNode {
			continue
		}
		for _, e := range inc.Content {
			var paths []string
			switch e.Kind {
			case yaml.ScalarNode:
				paths = []string{e.Value}
			case yaml.MappingNode:
				if _, pn := mapGet(e, "path"); pn != nil {
					if pn.Kind == yaml.ScalarNode {
						paths = []string{pn.Value}
					} else {
						for _, c := range pn.Content {
							paths = append(paths, c.Value)
						}
					}
				}
			}
			for _, ip := range paths {
				if !filepath.IsAbs(ip) && pf.name != "-" {
					ip = filepath.Join(filepath.Dir(pf.name), ip)
				}
				data, err := os.ReadFile(ip)
				var doc yaml.Node
				if err != nil || yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
					continue
				}
				included = append(included, posFile{name: ip, root: doc.Content[0]})
			}
		}
	}
	ps.files = append(included, ps.files...)
	return ps
}

// Node returns the key node at path (and its value) in the last file holding it.
func (ps *Positions) Node(path ...string) (file string, key, val *yaml.Node) {
	return ps.nodeDepth(0, path)
}

// nodeDepth is node that follows a service's extends (to the base service
// in the same files or in extends.file) when the service itself does not
// write the key; depth bounds chains and cycles.
func (ps *Positions) nodeDepth(depth int, path []string) (file string, key, val *yaml.Node) {
	if f, k, v := ps.direct(ps.files, path); k != nil || depth > 8 || len(path) < 3 || path[0] != "services" {
		return f, k, v
	}
	extFile, _, ext := ps.direct(ps.files, []string{"services", path[1], "extends"})
	if ext == nil {
		return "", nil, nil
	}
	base, from := "", ""
	switch ext.Kind {
	case yaml.ScalarNode:
		base = ext.Value
	case yaml.MappingNode:
		if _, b := mapGet(ext, "service"); b != nil {
			base = b.Value
		}
		if _, f := mapGet(ext, "file"); f != nil {
			from = f.Value
		}
	}
	if base == "" {
		return "", nil, nil
	}
	rest := append([]string{"services", base}, path[2:]...)
	if from == "" {
		return ps.nodeDepth(depth+1, rest)
	}
	if !filepath.IsAbs(from) {
		from = filepath.Join(filepath.Dir(extFile), from)
	}
	data, err := os.ReadFile(from)
	var doc yaml.Node
	if err != nil || yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return "", nil, nil
	}
	return ps.direct([]posFile{{name: from, root: doc.Content[0]}}, rest)
}

// direct finds path in files, the last file first, without extends.
func (ps *Positions) direct(files []posFile, path []string) (file string, key, val *yaml.Node) {
	for i := len(files) - 1; i >= 0; i-- {
		n := files[i].root
		var k *yaml.Node
		for _, p := range path {
			k, n = mapGet(n, p)
			if n == nil {
				break
			}
		}
		if n != nil && k != nil {
			return files[i].name, k, n
		}
	}
	return "", nil, nil
}

// Has says whether any file writes the key at path.
func (ps *Positions) Has(path ...string) bool {
	_, k, _ := ps.Node(path...)
	return k != nil
}

// At is "FILE:LINE:COL" of the key at path, or of its closest written
// parent, or "" when none is found.
func (ps *Positions) At(path ...string) string {
	for n := len(path); n > 0; n-- {
		if f, k, _ := ps.Node(path[:n]...); k != nil {
			return fmt.Sprintf("%s:%d:%d", ps.Rel(f), k.Line, k.Column)
		}
	}
	return ""
}

// Rel is f relative to the working directory when below it; "-" is <stdin>.
func (ps *Positions) Rel(f string) string {
	if f == "-" {
		return "<stdin>"
	}
	if ps.cwd != "" {
		if r, err := filepath.Rel(ps.cwd, f); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return f
}

// Keys lists the keys written at path in any file, in order of first appearance.
func (ps *Positions) Keys(path ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range ps.files {
		n := f.root
		for _, p := range path {
			_, n = mapGet(n, p)
			if n == nil {
				break
			}
		}
		for _, k := range mapKeys(n) {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// mapKeys are the keys of mapping n, with those merged in by <<.
func mapKeys(n *yaml.Node) []string {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	var out []string
	switch n.Kind {
	case yaml.SequenceNode: // << takes a list of mappings too
		for _, c := range n.Content {
			out = append(out, mapKeys(c)...)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; k == "<<" {
				out = append(out, mapKeys(n.Content[i+1])...)
			} else {
				out = append(out, k)
			}
		}
	}
	return out
}

func mapGet(n *yaml.Node, key string) (k, v *yaml.Node) {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			for v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return n.Content[i], v
		}
	}
	// merge keys (<<: *anchor)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "<<" {
			if k, v := mapGet(n.Content[i+1], key); v != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// Use is a value that references a variable: its FILE:LINE:COL and key path.
type Use struct{ Pos, Path string }

// VariableUses finds the values that reference $NAME or ${NAME...} (not
// $$NAME), with their position and key path.
func (ps *Positions) VariableUses(name string) []Use {
	re := regexp.MustCompile(`(^|[^$])(\$\$)*\$(` + name + `\b|\{` + name + `\b)`)
	var out []Use
	for _, f := range ps.files {
		var walk func(n *yaml.Node, path string)
		walk = func(n *yaml.Node, path string) {
			switch n.Kind {
			case yaml.MappingNode:
				for i := 0; i+1 < len(n.Content); i += 2 {
					p := n.Content[i].Value
					if path != "" {
						p = path + "." + p
					}
					walk(n.Content[i+1], p)
				}
			case yaml.SequenceNode:
				for i, c := range n.Content {
					walk(c, fmt.Sprintf("%s[%d]", path, i))
				}
			case yaml.ScalarNode:
				if re.MatchString(n.Value) {
					out = append(out, Use{Pos: fmt.Sprintf("%s:%d:%d", ps.Rel(f.name), n.Line, n.Column), Path: path})
				}
			}
		}
		walk(f.root, "")
	}
	return out
}
