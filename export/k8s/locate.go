package k8s

import (
	"bytes"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"nucleus/internal/yamldoc"
	"nucleus/spec"
)

// locator finds where a field was written, so a warning can say
// FILE:LINE:COL. The project's files are parsed again (spec keeps no
// positions in its model); the last file that has the field wins, as in a
// merge. A field a file does not spell (a compose file's other key) falls
// back to its parent.
type locator struct {
	files []string
	docs  []*yaml.Node
}

func newLocator(p *spec.Project) *locator {
	l := &locator{}
	for _, f := range yamldoc.Parse(p.Files, p.Sources) {
		l.files = append(l.files, f.Name)
		l.docs = append(l.docs, f.Root)
	}
	return l
}

// find returns the position of path ("services.web.ports[0]").
func (l *locator) find(path string) (file string, line, col int) {
	if l == nil || len(l.files) == 0 {
		return "", 0, 0
	}
	segs := splitPath(path)
	for n := len(segs); n > 0; n-- {
		for i := len(l.docs) - 1; i >= 0; i-- {
			if node := walk(l.docs[i], segs[:n]); node != nil {
				return l.files[i], node.Line, node.Column
			}
		}
	}
	return l.files[0], 0, 0
}

// has reports whether a file writes exactly path (not a parent only).
func (l *locator) has(path string) bool {
	segs := splitPath(path)
	return slices.ContainsFunc(l.docs, func(d *yaml.Node) bool { return walk(d, segs) != nil })
}

func splitPath(p string) []string {
	var out []string
	for _, part := range strings.Split(p, ".") {
		name, idx, _ := strings.Cut(part, "[")
		out = append(out, name)
		for idx != "" {
			var i string
			i, idx, _ = strings.Cut(idx, "]")
			out = append(out, "["+i+"]")
			idx = strings.TrimPrefix(idx, "[")
		}
	}
	return out
}

// walk follows segs from n: the node of a scalar field, or the key of a
// block.
func walk(n *yaml.Node, segs []string) *yaml.Node {
	at := n
	for k, s := range segs {
		if strings.HasPrefix(s, "[") {
			i, err := strconv.Atoi(strings.Trim(s, "[]"))
			if err != nil || at.Kind != yaml.SequenceNode || i >= len(at.Content) {
				return nil
			}
			at = at.Content[i]
			continue
		}
		if at.Kind != yaml.MappingNode {
			return nil
		}
		found := false
		for j := 0; j+1 < len(at.Content); j += 2 {
			if at.Content[j].Value == s {
				key := at.Content[j]
				at, found = at.Content[j+1], true
				if k == len(segs)-1 && at.Kind != yaml.ScalarNode {
					// A whole block (a service, a list) is where its key is.
					return key
				}
				break
			}
		}
		if !found {
			return nil
		}
	}
	return at
}

// rel is p relative to the base directory (for messages and the header).
func (e *exporter) rel(p string) string { return relTo(e.base(), p) }

func (e *exporter) base() string {
	if e.o.BaseDir != "" {
		return e.o.BaseDir
	}
	return e.p.Dir
}

func relTo(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !slices.Contains([]string{".", ""}, r) {
		return r
	}
	return p
}

// isText says whether a file's bytes can be a ConfigMap's data (else
// binaryData): UTF-8 without NUL.
func isText(b []byte) bool { return utf8.Valid(b) && !bytes.ContainsRune(b, 0) }
