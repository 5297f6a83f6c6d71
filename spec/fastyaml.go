package spec

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// parseFast parses the plain subset of YAML that project files are almost
// always written in, into the same yaml.Node tree yaml.v3 would build (same
// values and positions), several times faster than yaml.v3. It declines
// (ok=false) on anything outside the subset, and the caller then parses with
// yaml.v3; so it only needs to be exact on what it accepts, which the
// differential fuzz target FuzzFastYAML checks against yaml.v3.
//
// The subset: block mappings and sequences (including "- key: value"
// items), plain scalars on one line, single- and double-quoted scalars on
// one line, flow lists and mappings on one line, comments and blank lines.
// Declined: anchors, aliases, tags, block scalars, multi-line scalars or
// flow collections, "?" keys, merge keys, directives, document markers,
// tabs, non-ASCII text, and empty flow entries.
func parseFast(data []byte) (*yaml.Node, bool) {
	for _, c := range data {
		if c >= 0x7f || (c < 0x20 && c != '\n') || c == '&' || c == '*' || c == '!' || c == '|' || c == '>' {
			return nil, false
		}
	}
	p := &fastParser{}
	if !p.split(data) {
		return nil, false
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Line: 1, Column: 1}
	if len(p.lines) == 0 {
		return nil, false // yaml.v3 decides what an empty document is
	}
	root, ok := p.block(p.lines[0].indent)
	if !ok || p.i != len(p.lines) {
		return nil, false
	}
	doc.Line, doc.Column = root.Line, root.Column
	doc.Content = []*yaml.Node{root}
	return doc, true
}

// fastLine is one line holding content: its indentation and text (after
// the indentation, comment not yet removed).
type fastLine struct {
	no     int // 1-based line number
	indent int // spaces before text
	text   string
}

type fastParser struct {
	lines []fastLine
	i     int
	depth int
}

// maxFastDepth bounds nesting; deeper documents go to yaml.v3, which has
// its own limits and messages.
const maxFastDepth = 64

// split keeps the lines that hold content. The text is copied once; lines
// and scalar values are substrings of it.
func (p *fastParser) split(raw []byte) bool {
	data := string(raw)
	p.lines = make([]fastLine, 0, strings.Count(data, "\n")+1)
	no := 0
	for len(data) > 0 {
		no++
		var l string
		if i := strings.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, ""
		}
		sp := 0
		for sp < len(l) && l[sp] == ' ' {
			sp++
		}
		rest := l[sp:]
		if len(rest) == 0 || rest[0] == '#' {
			continue
		}
		if sp == 0 && (strings.HasPrefix(rest, "---") || strings.HasPrefix(rest, "...") || rest[0] == '%') {
			return false
		}
		p.lines = append(p.lines, fastLine{no: no, indent: sp, text: rest})
	}
	return true
}

// block parses the block node starting at the current line, which has the
// given indentation.
func (p *fastParser) block(indent int) (*yaml.Node, bool) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFastDepth {
		return nil, false
	}
	l := p.lines[p.i]
	if l.indent != indent {
		return nil, false
	}
	if l.text == "-" || strings.HasPrefix(l.text, "- ") {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *fastParser) sequence(indent int) (*yaml.Node, bool) {
	first := p.lines[p.i]
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: first.no, Column: indent + 1}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent != indent || !(l.text == "-" || strings.HasPrefix(l.text, "- ")) {
			break
		}
		rest := strings.TrimLeft(l.text[1:], " ")
		if rest == "" || rest[0] == '#' {
			p.i++
			if p.i < len(p.lines) && p.lines[p.i].indent > indent {
				item, ok := p.block(p.lines[p.i].indent)
				if !ok {
					return nil, false
				}
				seq.Content = append(seq.Content, item)
				continue
			}
			seq.Content = append(seq.Content, nullNode(l.no, indent+2))
			continue
		}
		col := indent + 1 + (len(l.text) - len(rest))
		if rest[0] == '-' && (rest == "-" || strings.HasPrefix(rest, "- ")) {
			return nil, false // "- - x"
		}
		if isBlockKey(rest) {
			// "- key: value": a mapping indented at the key's column; the
			// line is re-read as the mapping's first line.
			p.lines[p.i] = fastLine{no: l.no, indent: col - 1, text: rest}
			item, ok := p.mapping(col - 1)
			if !ok {
				return nil, false
			}
			seq.Content = append(seq.Content, item)
			continue
		}
		item, ok := inlineValue(rest, l.no, col)
		if !ok {
			return nil, false
		}
		seq.Content = append(seq.Content, item)
		p.i++
		if p.i < len(p.lines) && p.lines[p.i].indent > indent {
			return nil, false // continuation of a multi-line scalar
		}
	}
	return seq, true
}

func (p *fastParser) mapping(indent int) (*yaml.Node, bool) {
	first := p.lines[p.i]
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: first.no, Column: indent + 1}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent != indent {
			if l.indent > indent {
				return nil, false
			}
			break
		}
		if l.text == "-" || strings.HasPrefix(l.text, "- ") {
			break // a sequence at this indentation ends the mapping
		}
		k, rest, ok := blockKey(l.text, l.no, indent+1)
		if !ok {
			return nil, false
		}
		colonCol := indent + 1 + (len(l.text) - len(rest)) // column of ':'
		rest = rest[1:]
		trimmed := strings.TrimLeft(rest, " ")
		if trimmed != "" && trimmed[0] == '#' && len(trimmed) < len(rest) {
			trimmed = ""
		}
		m.Content = append(m.Content, k)
		if trimmed == "" {
			p.i++
			if p.i < len(p.lines) {
				next := p.lines[p.i]
				isSeq := next.text == "-" || strings.HasPrefix(next.text, "- ")
				if next.indent > indent || (next.indent == indent && isSeq) {
					v, ok := p.block(next.indent)
					if !ok {
						return nil, false
					}
					m.Content = append(m.Content, v)
					continue
				}
			}
			m.Content = append(m.Content, nullNode(l.no, colonCol+1))
			continue
		}
		col := colonCol + 1 + (len(rest) - len(trimmed))
		v, ok := inlineValue(trimmed, l.no, col)
		if !ok {
			return nil, false
		}
		m.Content = append(m.Content, v)
		p.i++
		if p.i < len(p.lines) && p.lines[p.i].indent > indent {
			return nil, false
		}
	}
	return m, true
}

// maxKey stays below libyaml's 1024-character limit on simple keys.
const maxKey = 1000

func nullNode(line, col int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: line, Column: col}
}

// isBlockKey reports whether s starts with "key:" followed by a space or the
// end of the line.
func isBlockKey(s string) bool {
	_, _, ok := blockKey(s, 0, 0)
	return ok
}

// blockKey parses "key:" at the start of s and returns the key node and the
// text from the colon on.
func blockKey(s string, line, col int) (*yaml.Node, string, bool) {
	if s == "" {
		return nil, "", false
	}

	if s[0] == '"' || s[0] == '\'' {
		v, n, ok := quoted(s)
		if !ok || n > maxKey || n >= len(s) || s[n] != ':' || (n+1 < len(s) && s[n+1] != ' ') {
			return nil, "", false
		}
		style := yaml.DoubleQuotedStyle
		if s[0] == '\'' {
			style = yaml.SingleQuotedStyle
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: style, Line: line, Column: col}, s[n:], true
	}
	if !plainStart(s, false) {
		return nil, "", false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ':':
			if i+1 == len(s) || s[i+1] == ' ' {
				if i > maxKey {
					return nil, "", false // libyaml limits simple keys
				}
				key := strings.TrimRight(s[:i], " ")
				if key == "" || key == "<<" || !plainText(key, false) {
					return nil, "", false
				}
				return &yaml.Node{Kind: yaml.ScalarNode, Tag: plainTag(key), Value: key, Line: line, Column: col}, s[i:], true
			}
		case '#':
			if i > 0 && s[i-1] == ' ' {
				return nil, "", false
			}
		}
	}
	return nil, "", false
}

// plainStart: a plain scalar may not start with an indicator, except
// "-", "?" and ":" followed by a non-space.
func plainStart(s string, flow bool) bool {
	c := s[0]
	switch c {
	case '?', ':':
		return !flow && len(s) > 1 && s[1] != ' ' // libyaml rejects them first in flow context
	case '-':
		return len(s) > 1 && s[1] != ' ' && !(flow && strings.IndexByte(",[]{}", s[1]) >= 0)
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		return false
	}
	return true
}

// plainText checks a whole plain scalar: no ": ", no " #", and in flow
// context no flow indicators.
func plainText(s string, flow bool) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ':':
			if i+1 == len(s) || s[i+1] == ' ' || (flow && strings.IndexByte(",[]{}", s[i+1]) >= 0) {
				return false
			}
		case '#':
			if i > 0 && s[i-1] == ' ' {
				return false
			}
		case ',', '[', ']', '{', '}':
			if flow {
				return false
			}
		}
	}
	return true
}

// inlineValue parses the value part of a line: a scalar or a flow
// collection, then nothing but an optional comment.
func inlineValue(s string, line, col int) (*yaml.Node, bool) {
	n, used, ok := flowValue(s, line, col, false, 0)
	if !ok {
		return nil, false
	}
	rest := s[used:]
	trimmed := strings.TrimLeft(rest, " ")
	if trimmed != "" && !(trimmed[0] == '#' && len(trimmed) < len(rest)) {
		return nil, false
	}
	return n, true
}

// flowValue parses one value at the start of s; used is how many bytes it
// took. In flow context plain scalars end at , ] } and ": ".
func flowValue(s string, line, col int, flow bool, depth int) (*yaml.Node, int, bool) {
	if s == "" || depth > maxFastDepth {
		return nil, 0, false
	}
	switch s[0] {
	case '"', '\'':
		v, n, ok := quoted(s)
		if !ok {
			return nil, 0, false
		}
		style := yaml.DoubleQuotedStyle
		if s[0] == '\'' {
			style = yaml.SingleQuotedStyle
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: style, Line: line, Column: col}, n, true
	case '[':
		return flowSeq(s, line, col, depth+1)
	case '{':
		return flowMap(s, line, col, depth+1)
	}
	if !plainStart(s, flow) {
		return nil, 0, false
	}
	end := len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '#' && i > 0 && s[i-1] == ' ' {
			end = i
			break
		}
		if c == ':' && (i+1 == len(s) || s[i+1] == ' ' || (flow && strings.IndexByte(",[]{}", s[i+1]) >= 0)) {
			if !flow {
				return nil, 0, false // "a: b: c" is an error in yaml.v3
			}
			end = i
			break
		}
		if flow && (c == ',' || c == ']' || c == '}' || c == '[' || c == '{') {
			end = i
			break
		}
		if flow && (c == '?' || c == ':' || c == '#') {
			return nil, 0, false // libyaml's flow rules for these differ subtly
		}
	}
	v := strings.TrimRight(s[:end], " ")
	if v == "" || v == "<<" {
		return nil, 0, false // "<<" resolves to yaml.v3's merge tag
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: plainTag(v), Value: v, Line: line, Column: col}, len(v), true
}

// plainTag is !!null for the null spellings; every other tag is !!str
// here, which is all the loader distinguishes.
func plainTag(v string) string {
	switch v {
	case "~", "null", "Null", "NULL":
		return "!!null"
	}
	return "!!str"
}

func flowSeq(s string, line, col, depth int) (*yaml.Node, int, bool) {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle, Line: line, Column: col}
	i := skipSpaces(s, 1)
	if i < len(s) && s[i] == ']' {
		return n, i + 1, true
	}
	for {
		if i >= len(s) {
			return nil, 0, false
		}
		v, used, ok := flowValue(s[i:], line, col+i, true, depth)
		if !ok || v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Style == 0 && isBlockKeyLike(s[i+used:]) {
			return nil, 0, false // "[a: b]" is a single-pair mapping in YAML
		}
		n.Content = append(n.Content, v)
		i = skipSpaces(s, i+used)
		if i >= len(s) {
			return nil, 0, false
		}
		switch s[i] {
		case ']':
			return n, i + 1, true
		case ',':
			i = skipSpaces(s, i+1)
			if i < len(s) && (s[i] == ']' || s[i] == ',') {
				return nil, 0, false // empty entry or trailing comma
			}
		default:
			return nil, 0, false
		}
	}
}

// isBlockKeyLike: the rest after a flow value starts with ":".
func isBlockKeyLike(rest string) bool {
	rest = strings.TrimLeft(rest, " ")
	return rest != "" && rest[0] == ':'
}

func flowMap(s string, line, col, depth int) (*yaml.Node, int, bool) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle, Line: line, Column: col}
	i := skipSpaces(s, 1)
	if i < len(s) && s[i] == '}' {
		return n, i + 1, true
	}
	for {
		if i >= len(s) {
			return nil, 0, false
		}
		k, used, ok := flowValue(s[i:], line, col+i, true, depth)
		if !ok || k.Kind != yaml.ScalarNode || k.Tag == "!!null" || (k.Style == 0 && k.Value == "<<") {
			return nil, 0, false
		}
		if used > maxKey {
			return nil, 0, false
		}
		i += used
		// yaml.v3 allows "key:value" right after a quoted key, and
		// requires a space (or flow indicator) after a plain one.
		i = skipSpaces(s, i)
		if i >= len(s) || s[i] != ':' {
			return nil, 0, false // {a} or {a, b}: implicit nulls, declined
		}
		i++
		if i < len(s) && s[i] != ' ' && k.Style == 0 {
			return nil, 0, false
		}
		i = skipSpaces(s, i)
		if i >= len(s) || s[i] == ',' || s[i] == '}' {
			return nil, 0, false // {a: } empty value, declined
		}
		v, used, ok := flowValue(s[i:], line, col+i, true, depth)
		if !ok {
			return nil, 0, false
		}
		n.Content = append(n.Content, k, v)
		i = skipSpaces(s, i+used)
		if i >= len(s) {
			return nil, 0, false
		}
		switch s[i] {
		case '}':
			return n, i + 1, true
		case ',':
			i = skipSpaces(s, i+1)
			if i < len(s) && (s[i] == '}' || s[i] == ',') {
				return nil, 0, false
			}
		default:
			return nil, 0, false
		}
	}
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// quoted parses a single-line quoted scalar at the start of s and returns
// its value and length. Escapes outside a small common set are declined.
func quoted(s string) (string, int, bool) {
	q := s[0]
	// Common case: no escapes, the value is a substring.
	if end := strings.IndexByte(s[1:], q); end >= 0 {
		body := s[1 : end+1]
		doubledQuote := q == '\'' && end+2 < len(s) && s[end+2] == '\''
		if !doubledQuote && (q == '\'' || strings.IndexByte(body, '\\') < 0) {
			return body, end + 2, true
		}
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if q == '\'' {
			if c == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				return b.String(), i + 1, true
			}
			b.WriteByte(c)
			continue
		}
		switch c {
		case '"':
			return b.String(), i + 1, true
		case '\\':
			if i+1 >= len(s) {
				return "", 0, false
			}
			i++
			if e, ok := commonEscape(s[i]); ok {
				b.WriteByte(e)
				continue
			}
			switch s[i] {
			case '0':
				b.WriteByte(0)
			case ' ':
				b.WriteByte(' ')
			default:
				return "", 0, false
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false // not closed on this line
}
