package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// parseFile parses one YAML file into a tree (nil after a syntax error).
//
// yaml.v3 parses about 10 MB/s, so a large project (1,000 services) spends
// most of its load time there. Large files are therefore split along the
// entries of their top-level services: block and the pieces parsed in
// parallel (parseSplit). Whenever the split parse meets anything it does not
// expect, including any YAML syntax error, the whole file is parsed again
// the ordinary way, so results and messages never depend on the split.
func parseFile(src source, order int, lookup lookupFunc, e *errs) *node {
	if len(bytes.TrimSpace(src.data)) == 0 {
		return &node{kind: kindNull, loc: loc{file: &fileRef{path: src.path, order: order}, line: 1, col: 1}}
	}
	if len(src.data) >= splitMinSize && runtime.GOMAXPROCS(0) > 1 {
		if t, ok := parseSplit(src, order, lookup, e, runtime.GOMAXPROCS(0)); ok {
			return t
		}
	}
	return parseWhole(src, order, lookup, e)
}

// splitMinSize is the file size from which splitting pays off.
const splitMinSize = 64 << 10

func parseWhole(src source, order int, lookup lookupFunc, e *errs) *node {
	doc, ok := decodeOne(src.data, func(line, col int, msg string) {
		e.add(Pos{File: src.path, Line: line, Col: col, order: order}, "", msg)
	})
	if !ok {
		return nil
	}
	c := &converter{file: src.path, order: order, lookup: lookup, errs: e}
	return c.conv(doc)
}

// decodeOne parses exactly one YAML document, reporting syntax errors and
// extra documents through report.
func decodeOne(data []byte, report func(line, col int, msg string)) (*yaml.Node, bool) {
	if !mayHoldDocuments(data) {
		// yaml.Unmarshal reads from memory, faster than a Decoder, but
		// silently ignores documents after the first; only files with a
		// "---" or "..." line can have more.
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			line, msg := syntaxError(data, err)
			report(line, 1, msg)
			return nil, false
		}
		return &doc, true
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		line, msg := syntaxError(data, err)
		report(line, 1, msg)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		report(extra.Line, extra.Column, "a project file holds one YAML document; found another one here")
		return nil, false
	} else if !errors.Is(err, io.EOF) {
		line, msg := yamlError(err)
		report(line, 1, msg)
		return nil, false
	}
	return &doc, true
}

// maxReparseLines bounds the files syntaxError parses again line by line
// (each try parses a prefix: quadratic in the file's length).
const maxReparseLines = 1000

// syntaxError is yamlError with the line of the problem instead of the line
// where its enclosing block starts, which is what yaml.v3 reports for the
// most common slip: a key indented one space too few or too many on line 9
// of a mapping that starts on line 1 reads "line 1: did not find expected
// key". The problem is on the line after the longest prefix of whole lines
// that still parses; the message then says where the block starts.
func syntaxError(data []byte, err error) (int, string) {
	line, msg := yamlError(err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	if line < 1 || len(lines) > maxReparseLines {
		return line, msg
	}
	for k := len(lines) - 1; k >= line; k-- {
		var n yaml.Node
		if yaml.Unmarshal(bytes.Join(lines[:k], nil), &n) != nil {
			continue
		}
		if k+1 == line {
			break
		}
		hint := ""
		if strings.Contains(msg, "expected key") || strings.Contains(msg, "mapping values are not allowed") {
			hint = ": check this line's indentation"
		}
		return k + 1, fmt.Sprintf("%s (in the block that starts at line %d%s)", msg, line, hint)
	}
	return line, msg
}

// mayHoldDocuments reports whether data has a line starting with a document
// marker ("---" or "...") after its first line.
func mayHoldDocuments(data []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return false
		}
		i += j + 1
		if bytes.HasPrefix(data[i:], []byte("---")) || bytes.HasPrefix(data[i:], []byte("...")) {
			return true
		}
	}
}

// parseSplit parses the services: block in pieces on workers goroutines.
// ok=false means "fall back to parseWhole"; nothing was reported then.
func parseSplit(src source, order int, lookup lookupFunc, e *errs, workers int) (*node, bool) {
	data := src.data
	blk, ok := findServicesBlock(data)
	if !ok || len(blk.splits) < 2 {
		return nil, false
	}
	// Group the entries into about workers*2 pieces of similar size.
	pieces := workers * 2
	if pieces > len(blk.splits) {
		pieces = len(blk.splits)
	}
	type piece struct {
		start, end, firstLine int
		tree                  *node
		errs                  errs
		ok                    bool
	}
	ps := make([]*piece, 0, pieces)
	target := (blk.end - blk.splits[0].offset) / pieces
	cur := &piece{start: blk.splits[0].offset, firstLine: blk.splits[0].line}
	for _, sp := range blk.splits[1:] {
		if sp.offset-cur.start >= target && len(ps) < pieces-1 {
			cur.end = sp.offset
			ps = append(ps, cur)
			cur = &piece{start: sp.offset, firstLine: sp.line}
		}
	}
	cur.end = blk.end
	ps = append(ps, cur)

	// The rest of the file, with the services block cut out; lines after
	// the cut are shifted back to their real numbers.
	head := make([]byte, 0, len(data)-(blk.end-blk.bodyStart))
	head = append(head, data[:blk.bodyStart]...)
	head = append(head, data[blk.end:]...)
	var headTree *node
	var headErrs errs
	headOK := false

	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc, ok := parseFast(data[p.start:p.end])
			if !ok {
				doc, ok = decodeOne(data[p.start:p.end], func(int, int, string) {})
			}
			if !ok {
				return
			}
			c := &converter{file: src.path, order: order, lookup: lookup, errs: &p.errs,
				lineOffset: p.firstLine - 1, path: []seg{{key: "services"}}}
			p.tree, p.ok = c.conv(doc), true
		}()
	}
	doc, ok := parseFast(head)
	if !ok {
		doc, ok = decodeOne(head, func(int, int, string) {})
	}
	if ok {
		c := &converter{file: src.path, order: order, lookup: lookup, errs: &headErrs,
			shiftAfter: blk.keyLine, shift: blk.endLine - blk.keyLine - 1}
		headTree, headOK = c.conv(doc), true
	}
	wg.Wait()
	if !headOK || headTree == nil || headTree.kind != kindMap {
		return nil, false
	}
	svcIdx := -1
	for i, k := range headTree.keys {
		if k.value == "services" {
			svcIdx = i
		}
	}
	if svcIdx < 0 || headTree.vals[svcIdx].kind != kindNull {
		return nil, false
	}
	services := &node{kind: kindMap}
	first := map[string]key{}
	var dups errs
	for i, p := range ps {
		if !p.ok || p.tree == nil || p.tree.kind != kindMap {
			return nil, false
		}
		if i == 0 {
			services.loc = p.tree.loc
		}
		for j, k := range p.tree.keys {
			if f, dup := first[k.value]; dup {
				dups.add(k.where(), "services", "duplicate key "+strconv.Quote(k.value)+" (first defined on line "+strconv.Itoa(f.where().Line)+")")
				continue
			}
			first[k.value] = k
			services.keys = append(services.keys, k)
			services.vals = append(services.vals, p.tree.vals[j])
		}
	}
	headTree.vals[svcIdx] = services
	e.list = append(e.list, headErrs.list...)
	for _, p := range ps {
		e.list = append(e.list, p.errs.list...)
	}
	e.list = append(e.list, dups.list...)
	return headTree, true
}

// servicesBlock locates the entries of a top-level block "services:".
type servicesBlock struct {
	keyLine   int // line of "services:"
	bodyStart int // offset just after the "services:" line
	end       int // offset where the block ends
	endLine   int // line number of the first line after the block
	splits    []split
}

type split struct{ offset, line int }

// findServicesBlock finds "services:" alone on a line at column 0, its body
// (every following line that is blank, a comment or indented), and the
// offsets of the lines that start its entries: lines indented exactly like
// the first entry and starting a key. Any other shape is not split.
func findServicesBlock(data []byte) (servicesBlock, bool) {
	var b servicesBlock
	line, off := 1, 0
	found := false
	indent := -1
	for off < len(data) {
		nl := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if nl >= 0 {
			next = off + nl + 1
		}
		l := data[off:next]
		if !found {
			if isServicesKeyLine(l) {
				if b.keyLine != 0 {
					return b, false // twice: let the full parse report it
				}
				found, b.keyLine, b.bodyStart = true, line, next
			}
		} else {
			sp := 0
			for sp < len(l) && l[sp] == ' ' {
				sp++
			}
			rest := bytes.TrimRight(l[sp:], "\r\n")
			switch {
			case len(rest) == 0 || rest[0] == '#':
				// blank or comment: part of the block
			case sp == 0:
				b.end, b.endLine = off, line
				found = false
				if b.end == 0 {
					return b, false
				}
			case indent < 0:
				if rest[0] == '-' || rest[0] == '\t' || rest[0] == '{' || rest[0] == '[' {
					return b, false
				}
				indent = sp
				b.splits = append(b.splits, split{off, line})
			case sp == indent:
				if rest[0] == '-' || rest[0] == '\t' {
					return b, false
				}
				b.splits = append(b.splits, split{off, line})
			case sp < indent:
				return b, false
			}
		}
		off = next
		line++
	}
	if found {
		b.end, b.endLine = len(data), line
	}
	if b.keyLine == 0 || b.end == 0 {
		return b, false
	}
	return b, true
}

func isServicesKeyLine(l []byte) bool {
	rest, ok := bytes.CutPrefix(l, []byte("services:"))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	return len(rest) == 0 || rest[0] == '\n' || rest[0] == '\r' || rest[0] == '#'
}
