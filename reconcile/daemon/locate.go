package daemon

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

type yamlNode = yaml.Node

// locator finds where a field is written in the project files, for
// messages that point at FILE:LINE:COL. The last file that sets a field
// wins (an override beats the base file), as when loading.
type locator struct {
	files []string
	docs  []*yaml.Node // nil where a file does not parse
}

func newLocator(files []string) *locator {
	l := &locator{files: files}
	for _, f := range files {
		var doc yaml.Node
		b, err := os.ReadFile(f)
		if err != nil || yaml.Unmarshal(b, &doc) != nil {
			l.docs = append(l.docs, nil)
			continue
		}
		l.docs = append(l.docs, &doc)
	}
	return l
}

// find returns "FILE:LINE:COL" of the value at path (map keys); match,
// when set, picks an item of the sequence found there. Without a position
// it names the last file.
func (l *locator) find(path []string, match func(*yaml.Node) bool) string {
	for i := len(l.docs) - 1; i >= 0; i-- {
		if n := lookup(l.docs[i], path, match); n != nil {
			return fmt.Sprintf("%s:%d:%d", l.files[i], n.Line, n.Column)
		}
	}
	if len(l.files) == 0 {
		return "?"
	}
	return l.files[len(l.files)-1]
}

func lookup(doc *yaml.Node, path []string, match func(*yaml.Node) bool) *yaml.Node {
	if doc == nil || len(doc.Content) == 0 {
		return nil
	}
	n := doc.Content[0]
	var key *yaml.Node
	for _, k := range path {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				key, next = n.Content[i], n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	if match != nil && n.Kind == yaml.SequenceNode {
		for _, it := range n.Content {
			if match(it) {
				return it
			}
		}
	}
	if n.Kind == yaml.ScalarNode {
		return n
	}
	return key
}
