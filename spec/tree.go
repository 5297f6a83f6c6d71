package spec

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// kind is the shape of a node in the loader's own YAML tree.
type kind uint8

const (
	kindNull kind = iota
	kindScalar
	kindMap
	kindSeq
)

func (k kind) String() string {
	switch k {
	case kindScalar:
		return "a scalar"
	case kindMap:
		return "a mapping"
	case kindSeq:
		return "a list"
	}
	return "null"
}

// node is a YAML value with its source position. The loader converts
// yaml.v3 nodes into these so that aliases are expanded, interpolation is
// applied, and several files can be merged while every value keeps the
// position of the file that provided it.
type node struct {
	kind  kind
	value string // scalar value (after interpolation)
	keys  []key  // mapping keys, parallel to vals
	vals  []*node
	items []*node
	loc   loc
	// merge directives from override files (compose's !reset and !override).
	reset, override bool
	// bad marks a value whose interpolation failed; it was reported and
	// the decoder skips it instead of adding follow-up errors.
	bad bool
}

// loc is a compact source position (nodes are numerous; Pos is large).
type loc struct {
	file      *fileRef
	line, col int32
}

// fileRef names a loaded file and its index among the project files.
type fileRef struct {
	path  string
	order int
}

// key is a mapping key: its text and position. Keys are not nodes because
// a project has as many keys as values and they need nothing else.
type key struct {
	value string
	loc   loc
}

func (l loc) pos() Pos {
	if l.file == nil {
		return Pos{Line: int(l.line), Col: int(l.col)}
	}
	return Pos{File: l.file.path, Line: int(l.line), Col: int(l.col), order: l.file.order}
}

// where returns the node's position.
func (n *node) where() Pos { return n.loc.pos() }

// where returns the key's position.
func (k key) where() Pos { return k.loc.pos() }

// get returns the value of key in a mapping node, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindMap {
		return nil
	}
	for i, k := range n.keys {
		if k.value == key {
			return n.vals[i]
		}
	}
	return nil
}

// maxNodes bounds alias expansion ("billion laughs") and absurd inputs.
const maxNodes = 2_000_000

// converter turns one parsed file into a tree, interpolating scalar values.
type converter struct {
	file   string
	order  int
	lookup lookupFunc
	errs   *errs
	count  int
	path   []seg // keys and indexes leading to the current node, for error messages
	depth  int
	slab   []node
	ref    *fileRef
	memo   map[*yaml.Node]*node // anchored nodes already converted
	// lineOffset is added to every line, and shift to lines after
	// shiftAfter: both map positions back when a file is parsed in pieces.
	lineOffset, shiftAfter, shift int
}

// seg is one step of a path: a mapping key, or a list index when key is "".
type seg struct {
	key   string
	index int
}

func (c *converter) loc(y *yaml.Node) loc {
	line := y.Line + c.lineOffset
	if c.shiftAfter > 0 && y.Line > c.shiftAfter {
		line += c.shift
	}
	if c.ref == nil {
		c.ref = &fileRef{path: c.file, order: c.order}
	}
	return loc{file: c.ref, line: int32(line), col: int32(y.Column)}
}

func (c *converter) pos(y *yaml.Node) Pos {
	l := c.loc(y)
	return Pos{File: c.file, Line: int(l.line), Col: int(l.col), order: c.order}
}

// pathString renders the current path; only called for errors.
func (c *converter) pathString() string {
	var b strings.Builder
	for _, p := range c.path {
		if p.key == "" {
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p.key)
	}
	return b.String()
}

// alloc returns a new node holding v. Nodes come from slabs: a large
// project has tens of thousands of them, and one allocation per node
// dominated the load time.
func (c *converter) alloc(v node) *node {
	if len(c.slab) == 0 {
		c.slab = make([]node, 256)
	}
	n := &c.slab[0]
	c.slab = c.slab[1:]
	*n = v
	return n
}

// conv converts y; it returns nil when the node budget is exhausted.
func (c *converter) conv(y *yaml.Node) *node {
	c.count++
	if c.count > maxNodes || c.depth > 200 {
		if c.count > 0 {
			c.errs.add(c.pos(y), c.pathString(), "document is too large or too deeply nested (after expanding aliases)")
			c.count = -1 << 40 // report once
		}
		return nil
	}
	c.depth++
	defer func() { c.depth-- }()
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return c.alloc(node{kind: kindNull, loc: c.loc(y)})
		}
		return c.conv(y.Content[0])
	case yaml.AliasNode:
		if y.Alias == nil {
			return c.alloc(node{kind: kindNull, loc: c.loc(y)})
		}
		// An alias shares the anchor's converted tree instead of copying
		// it, so "billion laughs" documents stay small.
		n := c.memo[y.Alias]
		if n == nil {
			if n = c.conv(y.Alias); n == nil {
				return nil
			}
		}
		cp := c.alloc(*n)
		cp.loc = c.loc(y)
		return cp
	case yaml.ScalarNode:
		return c.remember(y, c.scalar(y))
	case yaml.SequenceNode:
		n := c.alloc(node{kind: kindSeq, loc: c.loc(y), items: make([]*node, 0, len(y.Content))})
		c.directives(n, y)
		for i, it := range y.Content {
			c.path = append(c.path, seg{index: i})
			v := c.conv(it)
			c.path = c.path[:len(c.path)-1]
			if v == nil {
				return nil
			}
			n.items = append(n.items, v)
		}
		return c.remember(y, n)
	case yaml.MappingNode:
		return c.remember(y, c.mapping(y))
	}
	return c.alloc(node{kind: kindNull, loc: c.loc(y)})
}

// remember records the tree of an anchored node for its aliases.
func (c *converter) remember(y *yaml.Node, n *node) *node {
	if y.Anchor != "" && n != nil {
		if c.memo == nil {
			c.memo = map[*yaml.Node]*node{}
		}
		c.memo[y] = n
	}
	return n
}

func (c *converter) directives(n *node, y *yaml.Node) {
	switch y.Tag {
	case "!reset":
		n.reset = true
	case "!override":
		n.override = true
	}
}

func (c *converter) scalar(y *yaml.Node) *node {
	n := c.alloc(node{kind: kindScalar, loc: c.loc(y), value: y.Value})
	switch y.ShortTag() {
	case "!!null":
		n.kind = kindNull
		n.value = ""
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
	case "!reset":
		n.reset, n.kind, n.value = true, kindNull, ""
	case "!override":
		n.override = true
	default:
		c.errs.add(n.where(), c.pathString(), "unsupported YAML tag "+strconv.Quote(y.Tag))
	}
	if n.kind == kindScalar && c.lookup != nil && strings.IndexByte(n.value, '$') >= 0 { // nil: Raw
		v, err := interpolate(n.value, c.lookup)
		if err != nil {
			c.errs.add(n.where(), c.pathString(), err.Error())
			n.bad = true
		} else {
			n.value = v
		}
	}
	return n
}

func (c *converter) mapping(y *yaml.Node) *node {
	n := c.alloc(node{kind: kindMap, loc: c.loc(y)})
	c.directives(n, y)
	m := len(y.Content) / 2
	n.keys = make([]key, 0, m)
	n.vals = make([]*node, 0, m)
	ix := newKeyIndex(n, m)
	var merged []*node // mappings named by "<<", applied after explicit keys
	for i := 0; i+1 < len(y.Content); i += 2 {
		ky, vy := y.Content[i], y.Content[i+1]
		if ky.Kind == yaml.ScalarNode && ky.ShortTag() == "!!merge" {
			v := c.conv(vy)
			if v == nil {
				return nil
			}
			switch v.kind {
			case kindMap:
				merged = append(merged, v)
			case kindSeq:
				for _, it := range v.items {
					if it.kind != kindMap {
						c.errs.add(it.where(), c.pathString(), "merge key << needs a mapping or a list of mappings")
						continue
					}
					merged = append(merged, it)
				}
			default:
				c.errs.add(v.where(), c.pathString(), "merge key << needs a mapping or a list of mappings")
			}
			continue
		}
		if ky.Kind == yaml.AliasNode && ky.Alias != nil {
			ky = ky.Alias
		}
		if ky.Kind != yaml.ScalarNode {
			c.errs.add(c.pos(ky), c.pathString(), "mapping keys must be strings, not "+kindOfYAML(ky))
			continue
		}
		kn := key{value: ky.Value, loc: c.loc(ky)}
		if j := ix.find(ky.Value); j >= 0 {
			c.errs.add(kn.where(), c.pathString(), "duplicate key "+strconv.Quote(ky.Value)+" (first defined on line "+strconv.Itoa(n.keys[j].where().Line)+")")
			continue
		}
		c.path = append(c.path, seg{key: ky.Value})
		v := c.conv(vy)
		c.path = c.path[:len(c.path)-1]
		if v == nil {
			return nil
		}
		ix.add(kn, v)
	}
	// Merge keys: explicit keys win, earlier merged mappings win over later ones.
	for _, mm := range merged {
		for i, k := range mm.keys {
			if ix.find(k.value) < 0 {
				ix.add(k, mm.vals[i])
			}
		}
	}
	return n
}

func kindOfYAML(y *yaml.Node) string {
	switch y.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}
